"""``cuakhau demo``: central with the embedded broker, one gate box with synthetic traffic.

Each part runs as its own process, exactly as in the field; the demo declares a few trucks
through the HTTP API and prints what central has received until stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from central.broker import free_port

DEMO_DECLARATIONS = (
    ("12C-345.67", "VN", "accepted"),
    ("桂A4K9X1", "CN", "accepted"),
    ("14C-123.45", "VN", "returned"),
    ("29H-888.12", "VN", "accepted"),
)


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _http(method: str, url: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"central exited with code {process.returncode}")
        try:
            _http("GET", url)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise RuntimeError(f"central did not answer on {url} within {timeout:.0f}s")


def run_demo(duration: float = 0, http_port: int | None = None, workdir: str | None = None) -> int:
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
    (work / "agent.toml").write_text(
        "\n".join(
            [
                'device = "demo-ckhn-b1"',
                'gate = "CKHN"',
                "[mqtt]",
                'host = "127.0.0.1"',
                f"port = {broker_port}",
                "protocol = 3",
                "[store]",
                'path = "agent.db"',
                "[synthetic]",
                "rate_per_s = 2.0",
                'checkpoint = "barrier-in"',
                "",
            ]
        ),
        encoding="utf-8",
    )
    python = sys.executable
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    central = subprocess.Popen(
        [
            python,
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
        env=env,
    )
    processes = [central]
    try:
        _wait_http(f"{api}/health", central)
        today = datetime.now(UTC).strftime("%Y%m%d")
        for i, (plate, nationality, status) in enumerate(DEMO_DECLARATIONS, start=1):
            number = f"{today}{i:05d}"
            try:
                _http(
                    "POST",
                    f"{api}/api/declarations/",
                    {
                        "number": number,
                        "direction": "import",
                        "gate": "CKHN",
                        "plate": plate,
                        "nationality": nationality,
                        "status": status,
                        "declared_weight_kg": 24000,
                        "vehicle_class": "VT6",
                    },
                )
            except urllib.error.HTTPError as exc:
                if exc.code != 409:  # already declared on a re-run with --workdir
                    raise
        agent = subprocess.Popen(
            [python, "-m", "cuakhau", "agent", "run", "--config", str(work / "agent.toml")],
            env=env,
        )
        processes.append(agent)
        print(
            f"\ncuakhau demo running\n  API:      {api}/api/events  {api}/api/crossings"
            f"  {api}/api/devices\n  OpenAPI:  {api}/schema\n  broker:   mqtt://127.0.0.1:"
            f"{broker_port} (embedded amqtt)\n  files:    {work}\n  Ctrl-C to stop\n",
            flush=True,
        )
        started = time.monotonic()
        while duration <= 0 or time.monotonic() - started < duration:
            time.sleep(min(5.0, duration) if duration > 0 else 5.0)
            for p in processes:
                if p.poll() is not None:
                    print(f"cuakhau demo: a process exited with {p.returncode}", file=sys.stderr)
                    return 1
            crossings = _http("GET", f"{api}/api/crossings?limit=1000")["items"]
            held = sum(1 for c in crossings if c.get("decision") == "hold")
            devices = _http("GET", f"{api}/api/devices")
            acked = devices[0]["acked_seq"] if devices else 0
            print(
                f"central holds {acked} events from the box; crossings: "
                f"{len(crossings) - held} opened, {held} held",
                flush=True,
            )
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        for p in reversed(processes):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(processes):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
