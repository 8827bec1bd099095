"""The main job: ``cuakhau demo`` runs central, the embedded broker and a box with nothing else."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

from testkit import ROOT, free_port


def test_demo_runs_end_to_end_on_the_embedded_broker(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cuakhau",
            "demo",
            "--duration",
            "10",
            "--port",
            str(port),
            "--workdir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert f"http://127.0.0.1:{port}/schema" in out
    held = re.findall(
        r"central holds (\d+) events from the box; crossings: (\d+) opened, (\d+) held", out
    )
    assert held, out
    events, opened, on_hold = map(int, held[-1])
    assert events > 0 and opened > 0 and on_hold > 0
    assert "Traceback" not in out


def test_central_says_clearly_which_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "cuakhau",
                "central",
                "serve",
                "--embedded-broker",
                "--broker-port",
                str(port),
                "--port",
                str(free_port()),
                "--db",
                str(tmp_path / "c.db"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"embedded MQTT broker: port 127.0.0.1:{port} is already taken" in result.stderr


def test_the_demo_setup_step_installs_without_extras() -> None:
    # scripts/demo runs scripts/setup with no extra: it once produced an invalid ".[]"
    result = subprocess.run(
        ["bash", "scripts/setup"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
