"""``cuakhau provision probe --config box.toml``: the technician's checklist for one box.

Checks each configured device as the agent will use it and says what to fix: the barrier
board answers (and its loop and limit inputs read), the scale's readings arrive in the
configured protocol, the camera delivers frames (and a plate is found in the live view), the
models load, the broker takes the box's credentials (over TLS when configured), and the clock
agrees with central's. Exits 1 when anything fails.
"""

from __future__ import annotations

import email.utils
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edge_agent.config import AgentConfig, LaneConfig

#: a clock further than this from central's is a failure (events are dated by the box)
MAX_CLOCK_OFFSET_S = 5.0


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _barrier(lane: LaneConfig) -> Check:
    from edge_agent.devices.barrier.driver import BarrierCommError
    from edge_agent.lane.assembly import make_barrier

    name = f"{lane.policy.checkpoint}: barrier board"
    try:
        driver = make_barrier(lane.barrier)
        inputs = driver.read_inputs()
        driver.close_port()
    except (BarrierCommError, OSError, ValueError) as exc:
        return Check(name, False, str(exc), "check the RS-485 wiring, the port, unit id and baud")
    return Check(
        name,
        True,
        f"answers: loop {'occupied' if inputs.vehicle_present else 'clear'},"
        f" open limit {inputs.open_limit}, closed limit {inputs.closed_limit}",
        "" if not (inputs.open_limit and inputs.closed_limit) else "both limits on: check them",
    )


def _scale(lane: LaneConfig, listen_s: float) -> Check | None:
    if lane.scale is None:
        return None
    from edge_agent.devices.scale.protocols import make_parser
    from edge_agent.devices.scale.reader import ScaleReader

    name = f"{lane.policy.checkpoint}: weighbridge ({lane.scale.protocol})"
    reader = ScaleReader(lane.scale, make_parser(lane.scale.protocol))
    reader.start()
    try:
        reading = reader.wait_for(lambda r: r.kg is not None and r.stable, listen_s)
        reading = reading or reader.latest
    finally:
        reader.stop()
    if reading is None or reading.kg is None:
        return Check(
            name,
            False,
            f"no {lane.scale.protocol} reading in {listen_s:g} s on {lane.scale.url}",
            f"run `cuakhau probe scale {lane.scale.url}` to find the protocol and baud",
        )
    return Check(name, True, f"{reading.kg:g} kg, {'stable' if reading.stable else 'moving'}")


def _camera(lane: LaneConfig, anpr: Any, listen_s: float) -> Check | None:
    if lane.camera is None:
        return None
    from edge_agent.camera.source import FrameSource

    name = f"{lane.policy.checkpoint}: camera"
    source = FrameSource(lane.camera).start()
    try:
        frame = source.next_frame(-1, listen_s)
    finally:
        source.stop()
    if frame is None:
        return Check(
            name,
            False,
            f"no frame in {listen_s:g} s from {lane.camera}",
            "check the stream URL, the network and the camera's power",
        )
    height, width = frame.image.shape[:2]
    detail = f"{width}x{height} frames"
    plates: list[str] = []
    if anpr is not None:
        found = anpr.read_frame(frame.image, region=lane.detector_region)
        plates = [r.plate.display for r in found if r.plate]
        detail += f"; plates in view: {', '.join(plates) if plates else 'none'}"
    fix = "" if plates or anpr is None else "hold a plate up to the camera to check the reading"
    return Check(name, True, detail, fix)


def _broker(config: AgentConfig, listen_s: float) -> Check:
    from protocol.mqtt_client import MqttLink

    name = f"broker {config.mqtt.host}:{config.mqtt.port}" + (" (TLS)" if config.mqtt.tls else "")
    connected = threading.Event()
    try:
        link = MqttLink(
            config.mqtt,
            client_id=config.device,
            on_connected=lambda _present: connected.set(),
            on_disconnected=lambda: None,
            on_message=lambda _t, _p: None,
        )
        link.start()
    except (OSError, ValueError) as exc:
        return Check(name, False, str(exc), "check the broker address, CA file and password file")
    try:
        ok = connected.wait(listen_s)
    finally:
        link.stop()
    if not ok:
        return Check(
            name,
            False,
            f"no connection within {listen_s:g} s",
            "check the credentials (enrolled? revoked?), TLS CA and the firewall",
        )
    return Check(name, True, f"connected as {config.mqtt.username or config.device}")


def _clock(central: str) -> Check:
    try:
        with urllib.request.urlopen(central.rstrip("/") + "/health", timeout=5) as response:
            sent = email.utils.parsedate_to_datetime(response.headers["Date"])
    except (OSError, ValueError, TypeError) as exc:
        return Check(
            "clock against central",
            False,
            f"cannot ask central: {exc}",
            "check the central URL and the network",
        )
    offset = (datetime.now(UTC) - sent).total_seconds()
    return Check(
        "clock against central",
        abs(offset) <= MAX_CLOCK_OFFSET_S,
        f"{offset:+.1f} s",
        "" if abs(offset) <= MAX_CLOCK_OFFSET_S else "set up NTP on the box",
    )


def run_probe(
    config: AgentConfig,
    *,
    central: str | None = None,
    listen_s: float = 5.0,
    report: Callable[[Check], None] = lambda c: None,
) -> list[Check]:
    checks: list[Check] = []

    def add(check: Check | None) -> None:
        if check is not None:
            checks.append(check)
            report(check)

    anpr = None
    if not config.lanes:
        add(Check("lanes", False, "none configured", "add the box's [[lanes]] to its config"))
    if config.lanes:
        try:
            from edge_agent.anpr.engine import Anpr

            started = time.monotonic()
            anpr = Anpr(config.models, precision=config.reader)
            add(
                Check(
                    "plate models",
                    True,
                    f"loaded ({anpr.precision} reader) in {time.monotonic() - started:.1f} s",
                )
            )
        except Exception as exc:  # any failure to load is the finding
            add(Check("plate models", False, str(exc), "reinstall the package's models/"))
    for lane in config.lanes:
        add(_barrier(lane))
        add(_scale(lane, listen_s))
        add(_camera(lane, anpr, listen_s))
    add(_broker(config, listen_s))
    if central:
        add(_clock(central))
    return checks
