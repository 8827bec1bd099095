"""cuakhau processes for tests and benches: central and gate boxes (``python -m cuakhau ...``),
each with its output in a log file; a box's config file; ``python -m`` as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from testkit import ROOT, free_port, wait_for


def run_module(module: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m module args...`` from the repository root, as a user runs it; output as text."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Proc:
    """A cuakhau subprocess with its output in a log file."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args = args
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cuakhau", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=env,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Central(Proc):
    def __init__(self, workdir: Path, mqtt_port: int, protocol: int = 5) -> None:
        self.http_port = free_port()
        self.db = workdir / "central.db"
        super().__init__(
            [
                "central",
                "serve",
                "--db",
                str(self.db),
                "--port",
                str(self.http_port),
                "--mqtt-port",
                str(mqtt_port),
                "--mqtt-protocol",
                str(protocol),
            ],
            workdir / "central.log",
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        super().start()
        wait_for(self._ready, 30, "central to answer /health and connect to MQTT", 0.2)

    def _ready(self) -> bool:
        if not self.alive():
            raise RuntimeError(f"central exited:\n{self.output()[-3000:]}")
        try:
            return bool(self.get("/health")["mqtt_connected"])
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def send(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def stored_events(self, device: str) -> list[tuple[int, str]]:
        """(seq, id) of every event central stored for ``device``, read from its database."""
        if not self.db.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            return [
                (int(s), str(i))
                for s, i in conn.execute(
                    "SELECT seq, id FROM events WHERE device = ? ORDER BY seq", (device,)
                )
            ]
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()

    def acked(self, device: str) -> int:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            row = conn.execute(
                "SELECT acked_seq FROM devices WHERE device = ?", (device,)
            ).fetchone()
        except sqlite3.OperationalError:
            row = None
        finally:
            conn.close()
        return int(row[0]) if row else 0


def agent_config(
    workdir: Path,
    device: str,
    mqtt_port: int,
    *,
    gate: str = "CKHN",
    protocol: int = 5,
    batch: int = 500,
    window: int = 5000,
    ack_timeout: float = 2.0,
    synthetic: str = "",
) -> Path:
    path = workdir / f"{device}.toml"
    path.write_text(
        f'device = "{device}"\ngate = "{gate}"\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {mqtt_port}\nprotocol = {protocol}\nkeepalive = 5\n'
        f"[sync]\nbatch_max_events = {batch}\nwindow_events = {window}\n"
        f"ack_timeout_s = {ack_timeout}\nreconnect_min_s = 0.2\nreconnect_max_s = 1.0\n"
        f'[store]\npath = "{device}.db"\n{synthetic}',
        encoding="utf-8",
    )
    return path


class Agent(Proc):
    def __init__(self, workdir: Path, config: Path) -> None:
        super().__init__(["agent", "run", "--config", str(config)], workdir / f"{config.stem}.log")
        self.config = config
