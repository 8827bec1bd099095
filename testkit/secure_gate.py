"""A gate set up the secure way, for tests and benches: see ``SecureGate``."""

from __future__ import annotations

import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from central.store import CentralStore
from testkit import free_port
from testkit.mosquitto import Mosquitto
from testkit.processes import Central, run_module


class SecureGate:
    """Central, its broker and the broker's files, set up as docs/PROVISIONING.md says: a
    Mosquitto with central's password file, ACL and TLS listener (and a plain listener for
    central), central requiring enrolment, and boxes enrolled with `cuakhau provision enrol`.
    ``start()`` starts the broker and central; ``stop()`` stops them."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.broker_dir = tmp / "broker"
        db = tmp / "central.db"
        CentralStore(db).close()
        self.tls_port = free_port()
        setup = run_module(
            "cuakhau",
            "central",
            "broker-setup",
            "--dir",
            str(self.broker_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.tls_port),
            "--db",
            str(db),
        )
        assert setup.returncode == 0, setup.stderr
        mosquitto_dir = tmp / "mosquitto"
        mosquitto_dir.mkdir()
        self.pid_file = mosquitto_dir / "mosquitto.pid"
        b = self.broker_dir
        self.mosquitto = Mosquitto(
            mosquitto_dir,
            f"allow_anonymous false\npassword_file {b}/passwd\nacl_file {b}/acl\n"
            f"pid_file {self.pid_file}\n"
            f"listener {self.tls_port} 127.0.0.1\nuse_username_as_clientid true\n"
            f"cafile {b}/ca.pem\n"
            f"certfile {b}/server.pem\nkeyfile {b}/server.key\n",
        )
        self.central_password = (b / "central-password").read_text().strip()
        config = tmp / "central.toml"
        config.write_text(
            "require_enrolment = true\n"
            f'[mqtt]\nusername = "cuakhau-central"\npassword_file = "{b}/central-password"\n'
            f'[broker_access]\ndir = "{b}"\npid_file = "{self.pid_file}"\n'
            f'public_host = "127.0.0.1"\npublic_port = {self.tls_port}\n',
            encoding="utf-8",
        )
        self.central = Central(tmp, self.mosquitto.port)
        self.central.args += ["--config", str(config)]

    def start(self) -> None:
        self.mosquitto.start()
        self.central.start()

    def stop(self) -> None:
        self.central.stop()
        self.mosquitto.stop()

    def enrolment_token(self, checkpoint: str = "barrier-in") -> str:
        code, body = self.central.send(
            "POST",
            "/api/enrolments",
            {"gate": "CKHN", "checkpoints": [checkpoint], "expires_hours": 1},
            role="technician",
        )
        assert code == 201, body
        return str(body["token"])

    def enrol(self, folder: Path, token: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return run_module(
            "cuakhau",
            "provision",
            "enrol",
            "--central",
            self.central.url,
            "--token",
            token,
            "--dir",
            str(folder),
            *extra,
        )

    def client(
        self,
        username: str | None,
        password: str | None,
        client_id: str,
        ca: Path | None = None,
        *,
        plain: bool = False,
    ) -> tuple[mqtt.Client, Any]:
        """An MQTT 5 client on the TLS listener (``plain``: on central's plain listener, where
        the client id is the one given); (client, its CONNACK reason code or None)."""
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username:
            client.username_pw_set(username, password)
        if not plain:
            client.tls_set_context(
                ssl.create_default_context(cafile=str(ca or self.broker_dir / "ca.pem"))
            )
        result: dict[str, Any] = {}
        connected = threading.Event()

        def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            result["reason"] = reason
            connected.set()

        client.on_connect = on_connect
        client.connect("127.0.0.1", self.mosquitto.port if plain else self.tls_port)
        client.loop_start()
        connected.wait(10)
        return client, result.get("reason")


def grant(folder: Path) -> dict[str, str]:
    """What enrolment wrote: device id and broker password."""
    text = (folder / "box.toml").read_text()
    device = text.split('device = "')[1].split('"')[0]
    return {"device": device, "password": (folder / "mqtt-password").read_text().strip()}
