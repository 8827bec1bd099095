"""``cuakhau sim scenario FILE``: the whole stack for a scenario, started here.

Central runs as its own process. The broker is a Mosquitto started on a free port when
``mosquitto`` is installed (so outages can be staged by stopping it), else central's embedded
amqtt broker (outages are then skipped, and said so).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from simulators.scenario import ScenarioRun, load_scenario


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Mosquitto:
    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            + ("user root\n" if os.geteuid() == 0 else ""),
            encoding="utf-8",
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def up(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen(
            [binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("mosquitto did not start")

    def down(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def wait_for_central(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Until central answers ``/health`` connected to its broker; RuntimeError if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"central exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if json.loads(response.read())["mqtt_connected"]:
                    return
        except OSError:  # not listening yet (URLError, refused, timeout)
            pass
        time.sleep(0.3)
    raise RuntimeError(f"central did not answer on {url} within {timeout:.0f}s")


def central_user(db: Path, username: str, role: str, *, language: str = "vi") -> str:
    """A person's account made in central's database with ``cuakhau central user add``, with
    a fresh random password (returned; it is written nowhere but a file removed at once)."""
    password = secrets.token_urlsafe(12)
    with tempfile.TemporaryDirectory(prefix="cuakhau-user-") as tmp:
        secret = Path(tmp) / "password"
        secret.touch(mode=0o600)
        secret.write_text(password, encoding="utf-8")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "cuakhau",
                "central",
                "user",
                "add",
                username,
                "--role",
                role,
                "--language",
                language,
                "--db",
                str(db),
                "--password-file",
                str(secret),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    if done.returncode != 0:
        raise RuntimeError(f"could not make the account {username}: {done.stderr.strip()}")
    return password


def central_token(db: Path, name: str, role: str) -> str:
    """An API token made in central's database with ``cuakhau central token create``."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cuakhau",
            "central",
            "token",
            "create",
            name,
            "--role",
            role,
            "--db",
            str(db),
            "--expires-days",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cannot make a {role} token: {done.stderr.strip()}")
    return done.stdout.strip()


def run_scenario_file(file: str, keep: bool = False) -> int:
    try:
        scenario = load_scenario(file)
    except ValueError as exc:
        print(f"cuakhau: {exc}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="cuakhau-scenario-"))
    has_mosquitto = bool(shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists())
    broker = _Mosquitto(work) if has_mosquitto else None
    http_port = _free_port()
    args = [
        sys.executable,
        "-m",
        "cuakhau",
        "central",
        "serve",
        "--port",
        str(http_port),
        "--db",
        str(work / "central.db"),
    ]
    if broker is not None:
        broker.up()
        mqtt_port, protocol = broker.port, 5
        args += ["--mqtt-port", str(mqtt_port), "--mqtt-protocol", "5"]
    else:
        mqtt_port, protocol = _free_port(), 3
        args += ["--embedded-broker", "--broker-port", str(mqtt_port)]
        if scenario.outages:
            print("no mosquitto installed: the scenario's broker outages are skipped")
            scenario.outages = []
    with (work / "central.log").open("ab") as out:
        central = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http_port}"
    run = None
    try:
        wait_for_central(url, central)
        print(
            f"scenario {scenario.name}: {len(scenario.trucks)} trucks; central {url}; files {work}"
        )
        run = ScenarioRun(
            scenario,
            central_url=url,
            token=central_token(work / "central.db", "scenario", "admin"),
            mqtt_port=mqtt_port,
            mqtt_protocol=protocol,
            workdir=work,
            broker_down=broker.down if broker else None,
            broker_up=broker.up if broker else None,
        )
        run.start()
        report = run.run()
        print(report.text())
        return (
            0 if report.correct == len(report.outcomes) and not report.closes_while_occupied else 1
        )
    finally:
        if run is not None:
            run.stop()
        central.send_signal(signal.SIGTERM)
        try:
            central.wait(timeout=10)
        except subprocess.TimeoutExpired:
            central.kill()
        if broker is not None:
            broker.down()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
