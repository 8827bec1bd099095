"""Broker connection settings shared by the box, central and tools (TOML ``[mqtt]`` table)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import msgspec


class MqttSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = msgspec.field(default=1883)
    #: 5 for Mosquitto/EMQX; 3 (MQTT 3.1.1) for the embedded amqtt broker, which lacks MQTT 5.
    protocol: Literal[3, 5] = 5
    keepalive: int = 30
    username: str | None = None
    #: The password is never written into config files: a file path or an environment variable.
    password_file: str | None = None
    password_env: str | None = None
    tls: bool = False
    ca_file: str | None = None
    #: How long the broker keeps this client's session (subscriptions, queued QoS 1) when away.
    session_expiry_s: int = 7 * 24 * 3600

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"mqtt.port {self.port} is not a TCP port")
        if self.keepalive < 5:
            raise ValueError("mqtt.keepalive must be at least 5 seconds")

    def password(self) -> str | None:
        if self.password_file:
            return Path(self.password_file).read_text(encoding="utf-8").strip()
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ValueError(f"environment variable {self.password_env} is not set")
            return value
        return None
