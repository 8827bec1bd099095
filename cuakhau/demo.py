"""``cuakhau demo``: the whole gate on one machine with nothing installed but the package.

Central runs with its embedded MQTT broker and its staff UI (a border guard's login is made
for the run and printed); a simulated camera (MJPEG), weighbridge and barrier
board (ptys) stand at barrier 1 of Huu Nghi; a gate box runs its lane on them. Trucks from the
shipped scenario arrive one after another: declared ones open the barrier by themselves, the
others are held with their reasons, and everything is synced to central.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from central.broker import PortTakenError, check_port_free, free_port
from simulators.scenario_cli import central_token, central_user, wait_for_central

SCENARIO = (
    Path(__file__).resolve().parent.parent / "simulators" / "scenarios" / "huu-nghi-morning.toml"
)


def _port_free(port: int) -> bool:
    try:
        check_port_free("127.0.0.1", port, "central HTTP API")
    except PortTakenError:
        return False
    return True


def _get(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def run_demo(duration: float = 0, http_port: int | None = None, workdir: str | None = None) -> int:
    from simulators.scenario import ScenarioRun, load_scenario

    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="cuakhau-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    if http_port is None:
        http_port = 8080 if _port_free(8080) else free_port()
    elif not _port_free(http_port):
        print(
            f"cuakhau demo: HTTP port {http_port} is taken; pick another with --port",
            file=sys.stderr,
        )
        return 2
    broker_port = free_port()
    api = f"http://127.0.0.1:{http_port}"
    central = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cuakhau",
            "central",
            "serve",
            "--embedded-broker",
            "--broker-port",
            str(broker_port),
            "--port",
            str(http_port),
            "--db",
            str(work / "central.db"),
        ],
    )
    run = None
    stop = {"now": False}

    def on_signal(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    try:
        wait_for_central(api, central)
        # No default accounts: this run's own tokens, made like an operator makes them.
        viewer = central_token(work / "central.db", "demo-viewer", "viewer")
        guard_password = central_user(work / "central.db", "demo.guard", "border_guard")
        scenario = load_scenario(SCENARIO)
        run = ScenarioRun(
            scenario,
            central_url=api,
            token=central_token(work / "central.db", "demo-scenario", "admin"),
            mqtt_port=broker_port,
            mqtt_protocol=3,
            workdir=work,
            device="demo-ckhn-b1",
            log=lambda m: None,
        )
        run.start()
        print(
            f"\ncuakhau demo running\n  staff UI: {api}/ui  (log in as demo.guard, password"
            f" {guard_password}: a border guard made for this demo only; Tiếng Việt, English"
            " at the top right)\n"
            f"  API:      {api}/api/crossings  {api}/api/events"
            f"  {api}/api/devices\n  OpenAPI:  {api}/schema\n  camera:   {run.camera.url}\n"
            f"  broker:   mqtt://127.0.0.1:{broker_port} (embedded amqtt)\n"
            f"  token:    {viewer} (a viewer's, for this run: curl -H 'Authorization:"
            f" Bearer <token>' {api}/api/crossings)\n"
            f"  files:    {work}\n  Ctrl-C to stop\n",
            flush=True,
        )
        started = time.monotonic()
        index = 0
        while not stop["now"] and (duration <= 0 or time.monotonic() - started < duration):
            truck = scenario.trucks[index % len(scenario.trucks)]
            index += 1
            outcome = run.drive(index, truck)
            reasons = "; ".join(outcome.reasons) or "declared and compliant"
            print(
                f"truck {index:>3} {truck.plate:<12} {outcome.decision:<4} {reasons[:80]}",
                flush=True,
            )
            if central.poll() is not None:
                print(f"cuakhau demo: central exited with {central.returncode}", file=sys.stderr)
                return 1
            crossings = _get(f"{api}/api/crossings?limit=1000", viewer)["items"]
            held = sum(1 for c in crossings if c.get("decision") == "hold")
            devices = _get(f"{api}/api/devices", viewer)
            acked = max((d["acked_seq"] for d in devices), default=0)
            print(
                f"central holds {acked} events from the box; crossings: "
                f"{len(crossings) - held} opened, {held} held",
                flush=True,
            )
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if run is not None:
            run.stop()
        if central.poll() is None:
            central.send_signal(signal.SIGTERM)
            try:
                central.wait(timeout=10)
            except subprocess.TimeoutExpired:
                central.kill()
        if workdir is None:  # a temporary folder of this run only
            shutil.rmtree(work, ignore_errors=True)
