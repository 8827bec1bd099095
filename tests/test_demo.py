"""The main job: ``cuakhau demo`` runs central, the embedded broker and a box with nothing else."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from testkit import ROOT, free_port


def test_demo_runs_end_to_end_on_the_embedded_broker(tmp_path: Path) -> None:
    port = free_port()
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cuakhau",
            "demo",
            "--duration",
            "12",
            "--port",
            str(port),
            "--workdir",
            str(tmp_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    lines: list[str] = []
    login = None
    try:
        for line in demo.stdout:
            lines.append(line)
            login = re.search(
                rf"staff UI: http://127\.0\.0\.1:{port}/ui  \(log in as demo\.guard,"
                r" password (\S+):",
                line,
            )
            if login:
                break
        assert login, "".join(lines)
        # the printed login works while the demo runs: the guard lands on the held console
        form = urllib.parse.urlencode({"username": "demo.guard", "password": login.group(1)})
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/ui/login", data=form.encode(), method="POST"
        )
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(request, timeout=10) as response:
            assert response.url.endswith("/ui/held")
            assert "demo.guard" in response.read().decode()
        rest, _ = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
    out = "".join(lines) + rest
    assert demo.returncode == 0, out
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
