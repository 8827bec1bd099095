"""A real Mosquitto broker for tests and benches: its own config file, a free port (never 1883)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testkit import free_port, wait_for


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
