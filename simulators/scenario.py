"""A day at the gate, for testers: trucks, declarations, weights, outages, and what should happen.

``cuakhau sim scenario FILE`` (or ``ScenarioRun`` from a test) starts a camera (MJPEG), a
weighbridge (pty) and a barrier board (pty), runs a gate box (``cuakhau agent run``) whose lane
uses them, declares the trucks through central's HTTP API, then drives each truck through the
lane and prints expected against actual decisions.

The runner talks to the box only as the devices and central do; to learn what the lane decided
while central is unreachable it reads the box's SQLite store read-only, as a technician would.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import msgspec

from protocol.codec import decode_event
from protocol.messages import LaneDecision
from simulators.barrier.simulator import BarrierSimulator
from simulators.camera import CameraSimulator
from simulators.scale.simulator import ScaleSimulator


class Truck(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    plate: str
    expect: Literal["open", "hold"]
    expect_reasons: list[str] = []
    declared: bool = True
    #: the plate as the enterprise typed it (default: ``plate``)
    declared_plate: str | None = None
    status: str = "accepted"
    steps: list[str] = []
    quarantine: list[str] = []
    declared_weight_kg: float | None = None
    vehicle_class: str = "VT6"
    weight_kg: float = 20_000
    two_line: bool = False
    night: bool = False
    nationality: Literal["VN", "CN"] | None = None


class Scenario(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    gate: str = "CKHN"
    policy: dict[str, Any]
    trucks: list[Truck]
    #: broker down from the start of truck ``from_truck`` to the end of truck ``to_truck`` (1-based)
    outages: list[dict[str, int]] = []
    identify: dict[str, Any] = {}
    #: the weighbridge's indicator protocol; "" for a checkpoint without a scale
    protocol: str = "toledo"


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        return msgspec.convert(tomllib.loads(path.read_text(encoding="utf-8")), Scenario)
    except (OSError, tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"{path}: {exc}") from None


@dataclass
class Outcome:
    index: int
    truck: Truck
    decision: str | None
    reasons: list[str]
    seconds: float
    #: loop on -> the barrier board receiving the open pulse (automatic openings only)
    open_latency_ms: float | None = None

    @property
    def ok(self) -> bool:
        if self.decision != self.truck.expect:
            return False
        codes = [
            r.split(":")[0] if not r.startswith("step_missing") else r.split(": ")[0]
            for r in self.reasons
        ]
        return all(any(c.startswith(want) for c in codes) for want in self.truck.expect_reasons)


@dataclass
class Report:
    scenario: str
    outcomes: list[Outcome] = field(default_factory=list)
    closes_while_occupied: int = 0

    @property
    def correct(self) -> int:
        return sum(o.ok for o in self.outcomes)

    def text(self) -> str:
        lines = [
            f"scenario: {self.scenario}",
            f"{'#':>3} {'plate':<14} {'expected':<8} {'actual':<8} ok  reasons",
        ]
        for o in self.outcomes:
            lines.append(
                f"{o.index:>3} {o.truck.plate:<14} {o.truck.expect:<8} "
                f"{o.decision or '-':<8} {'yes' if o.ok else 'NO ':<3} "
                f"{'; '.join(o.reasons)[:90]}"
            )
        lines.append(
            f"{self.correct}/{len(self.outcomes)} decisions as expected; "
            f"close commands while the loop was occupied: {self.closes_while_occupied}"
        )
        return "\n".join(lines)


def _http(method: str, url: str, token: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


class ScenarioRun:
    def __init__(
        self,
        scenario: Scenario,
        *,
        central_url: str,
        token: str,
        mqtt_port: int,
        mqtt_protocol: int = 5,
        workdir: Path,
        device: str = "scenario-box",
        broker_down: Callable[[], None] | None = None,
        broker_up: Callable[[], None] | None = None,
        log: Callable[[str], None] = print,
        mqtt_host: str = "127.0.0.1",
        extra_config: str = "",
        launcher: Sequence[str] = (),
        camera_host: str = "127.0.0.1",
    ) -> None:
        """``mqtt_host``, ``camera_host``, ``launcher`` (a command the box runs under, e.g.
        ``ip netns exec NS``) and ``extra_config`` (TOML appended to the box's config) let a
        harness put the box on a network of its own."""
        self.scenario = scenario
        self.mqtt_host = mqtt_host
        self.extra_config = extra_config
        self.launcher = list(launcher)
        self.central_url = central_url.rstrip("/")
        #: an admin's API token: the scenario brings its declarations over as the national
        #: platform has them (``POST /api/declarations/import``)
        self.token = token
        self.mqtt_port = mqtt_port
        self.mqtt_protocol = mqtt_protocol
        self.workdir = workdir
        self.device = device
        self.broker_down = broker_down
        self.broker_up = broker_up
        self.log = log
        self.camera = CameraSimulator(host=camera_host, fps=15)
        self.scale = ScaleSimulator(
            scenario.protocol or "toledo", rate_hz=20, ramp_s=0.4, settle_s=0.3
        )
        self.barrier = BarrierSimulator(travel_s=0.3)
        self.agent: subprocess.Popen[bytes] | None = None
        self.db = workdir / f"{device}.db"

    # -- set-up ------------------------------------------------------------------------------

    def _config(self) -> Path:
        policy = dict(self.scenario.policy)
        lines = [
            f'device = "{self.device}"',
            f'gate = "{self.scenario.gate}"',
            "[mqtt]",
            f'host = "{self.mqtt_host}"',
            f"port = {self.mqtt_port}",
            f"protocol = {self.mqtt_protocol}",
            "keepalive = 5",
            "[sync]",
            "ack_timeout_s = 2.0",
            "reconnect_min_s = 0.2",
            "reconnect_max_s = 1.0",
            "[store]",
            f'path = "{self.db.name}"',
            "[[lanes]]",
            f'camera = "{self.camera.url}"',
            "weighing_timeout_s = 4.0",
            "[lanes.barrier]",
            f'url = "{self.barrier.path}"',
            "confirm_timeout_s = 3.0",
            *(
                [
                    "[lanes.scale]",
                    f'protocol = "{self.scenario.protocol}"',
                    f'url = "{self.scale.path}"',
                ]
                if self.scenario.protocol
                else []
            ),
            "[lanes.identify]",
            *(f"{k} = {json.dumps(v)}" for k, v in self.scenario.identify.items()),
            "[lanes.policy]",
        ]
        weight = policy.pop("weight", None)
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in policy.items()]
        if weight is not None:
            lines.append("[lanes.policy.weight]")
            for k, v in weight.items():
                if isinstance(v, dict):
                    inner = ", ".join(f"{kk} = {json.dumps(vv)}" for kk, vv in v.items())
                    lines.append(f"{k} = {{ {inner} }}")
                else:
                    lines.append(f"{k} = {json.dumps(v)}")
        path = self.workdir / f"{self.device}.toml"
        path.write_text("\n".join(lines) + "\n" + self.extra_config, encoding="utf-8")
        return path

    def _declare(self) -> None:
        today = datetime.now(UTC).strftime("%Y%m%d")
        offset = zlib.crc32(self.scenario.name.encode()) % 900 * 100  # scenarios never collide
        for i, truck in enumerate(self.scenario.trucks, start=offset + 1):
            if not truck.declared:
                continue
            plate = truck.declared_plate or truck.plate
            nationality = truck.nationality or ("CN" if not plate[:1].isdigit() else "VN")
            body = {
                "number": f"{today}{i:05d}",
                "direction": "import",
                "gate": self.scenario.gate,
                "plate": plate,
                "nationality": nationality,
                "status": truck.status,
                "declared_weight_kg": truck.declared_weight_kg or truck.weight_kg,
                "vehicle_class": truck.vehicle_class,
                "quarantine": truck.quarantine,
                "steps": {
                    s: {"done": True, "at": datetime.now(UTC).isoformat(), "user": "sim"}
                    for s in truck.steps
                },
            }
            _http("POST", f"{self.central_url}/api/declarations/import", self.token, body)

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if not self.db.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return list(conn.execute(sql, params))
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()

    def _cached_declarations(self) -> int:
        rows = self._query("SELECT count(*) FROM declarations")
        return int(rows[0][0]) if rows else 0

    def _lane_state(self) -> str | None:
        rows = self._query("SELECT state FROM lane_state")
        return str(rows[0][0]) if rows else None

    def _decision_after(self, seq: int) -> tuple[int, LaneDecision] | None:
        for s, body in self._query(
            "SELECT seq, body FROM outbox WHERE kind = 'lane_decision' AND seq > ? ORDER BY seq",
            (seq,),
        ):
            event = decode_event(bytes(body))
            if isinstance(event, LaneDecision):
                return int(s), event
        return None

    def _last_seq(self) -> int:
        rows = self._query("SELECT coalesce(max(seq), 0) FROM outbox")
        return int(rows[0][0]) if rows else 0

    def _wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if self.agent is not None and self.agent.poll() is not None:
                log = (self.workdir / f"{self.device}.log").read_text(errors="replace")
                raise RuntimeError(
                    f"the gate box exited with {self.agent.returncode} while waiting for "
                    f"{what}:\n{log[-2000:]}"
                )
            time.sleep(0.05)
        raise TimeoutError(f"timed out waiting for {what}")

    # -- the run -----------------------------------------------------------------------------

    def start(self) -> None:
        self.camera.start()
        self.scale.start()
        self.barrier.start()
        self._declare()
        self.config_path = self._config()
        self.spawn_agent()
        declared = sum(t.declared for t in self.scenario.trucks)
        self._wait(
            lambda: self._cached_declarations() >= declared, 60, "the box to cache the declarations"
        )
        self._wait(
            lambda: self._query("SELECT name FROM sqlite_master WHERE name = 'lane_state'"),
            60,
            "the lane to start",
        )

    def spawn_agent(self) -> None:
        """Start the box's process (again, after a kill: it carries on from its store)."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        command = [sys.executable, "-m", "cuakhau", "agent", "run", "--config"]
        with (self.workdir / f"{self.device}.log").open("ab") as out:
            self.agent = subprocess.Popen(
                [*self.launcher, *command, str(self.config_path)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def run(self) -> Report:
        report = Report(self.scenario.name)
        down: set[int] = set()
        for outage in self.scenario.outages:
            down |= set(range(outage["from_truck"], outage["to_truck"] + 1))
        broker_is_down = False
        for i, truck in enumerate(self.scenario.trucks, start=1):
            if i in down and not broker_is_down and self.broker_down:
                self.log("  (broker stopped)")
                self.broker_down()
                broker_is_down = True
            if i not in down and broker_is_down and self.broker_up:
                self.log("  (broker started)")
                self.broker_up()
                broker_is_down = False
            report.outcomes.append(self.drive(i, truck))
            o = report.outcomes[-1]
            self.log(
                f"  truck {i:>2} {truck.plate:<14} expected {truck.expect:<4} got "
                f"{o.decision or '-':<4} {'ok' if o.ok else 'WRONG'} {'; '.join(o.reasons)}"
            )
        if broker_is_down and self.broker_up:
            self.broker_up()
        report.closes_while_occupied = len(self.barrier.closes_while_occupied())
        return report

    def drive(self, index: int, truck: Truck) -> Outcome:
        """One truck through the lane: shown, weighed, on the loop, decided, gone."""
        started = time.monotonic()
        seq = self._last_seq()
        self.camera.show(truck.plate, two_line=truck.two_line, night=truck.night)
        self.scale.set_weight(truck.weight_kg)
        # the truck stops on the weighbridge, then noses onto the barrier's loop
        time.sleep(max(0.15, self.scale.settled_at() - time.monotonic() + 0.05))
        trigger = time.monotonic()
        self.barrier.set_vehicle(True)
        found = self._wait(lambda: self._decision_after(seq), 20, f"truck {index}'s decision")
        _, decision = found
        latency = None
        if decision.decision == "open":
            self._wait(lambda: self.barrier.state()["open_limit"], 10, "the barrier to open")
            opens = [r.at for r in self.barrier.received if r.relay == 0 and r.at >= trigger]
            latency = (opens[0] - trigger) * 1000 if opens else None
        time.sleep(0.1)
        self.barrier.set_vehicle(False)  # drives through, or backs away from a held lane
        self.scale.set_weight(0)
        self.camera.clear()
        self._wait(
            lambda: self._lane_state() == "idle" and self.barrier.state()["closed_limit"],
            15,
            f"the lane to be idle after truck {index}",
        )
        return Outcome(
            index,
            truck,
            decision.decision,
            list(decision.reasons),
            time.monotonic() - started,
            latency,
        )

    def stop(self) -> None:
        if self.agent is not None and self.agent.poll() is None:
            self.agent.terminate()
            try:
                self.agent.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.agent.kill()
        self.camera.stop()
        self.scale.stop()
        self.barrier.stop()
