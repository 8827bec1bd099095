"""Real parts for tests: a Mosquitto broker on a free port, central and agent processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_module(module: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m module args...`` from the repository root, as a user runs it; output as text."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


class Mosquitto:
    """A real Mosquitto on 127.0.0.1:<free port>, with its own config file; never port 1883."""

    def __init__(self, workdir: Path, extra_config: str = "") -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        self.binary = binary
        self.port = free_port()
        self.workdir = workdir
        self.config = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            + ("" if "allow_anonymous" in extra_config else "allow_anonymous true\n")
            # As root mosquitto drops to user "mosquitto", who cannot read pytest's temp dirs.
            + ("user root\n" if os.geteuid() == 0 else "")
            + "persistence false\n"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\n"
            f"{extra_config}\n",
            encoding="utf-8",
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.workdir / "mosquitto.out").open("ab") as out:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config)], stdout=out, stderr=subprocess.STDOUT
            )
        wait_for(self._accepts, 10, f"mosquitto on port {self.port}")

    def _accepts(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            out = "".join(
                p.read_text(errors="replace")[-2000:]
                for p in (self.log, self.workdir / "mosquitto.out")
                if p.exists()
            )
            raise RuntimeError(f"mosquitto exited: {out}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def sys_counter(
        self, topic: str, timeout: float = 10.0, until: Callable[[int], bool] = lambda v: True
    ) -> int:
        """One of the broker's ``$SYS`` counters (needs ``sys_interval`` in the config).

        ``$SYS`` values are retained and refreshed every ``sys_interval``: the first one heard
        may be stale, so this listens until a value satisfies ``until`` (or returns the last).
        """
        import threading

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        got: list[int] = []
        done = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sys-reader-{free_port()}")

        def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
            got.append(int(msg.payload.decode()))
            if until(got[-1]):
                done.set()

        client.on_message = on_message
        client.on_connect = lambda c, *_: c.subscribe(topic)
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        try:
            if not done.wait(timeout) and not got:
                raise AssertionError(f"no {topic} from mosquitto within {timeout}s")
        finally:
            client.loop_stop()
            client.disconnect()
        return got[-1]


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
