"""Central's configuration (TOML ``[central]`` file or command-line options)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec

from protocol.mqtt_settings import MqttSettings


class CentralConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    db: str = "cuakhau-central.db"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    mqtt: MqttSettings = msgspec.field(default_factory=MqttSettings)
    client_id: str = "cuakhau-central"
    #: MQTT 5 shared-subscription group, so several central workers split the ingest.
    shared_group: str | None = None


def load_central_config(path: str | Path) -> CentralConfig:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return msgspec.convert(raw, CentralConfig)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such config file") from None
    except (tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"{path}: {exc}") from None
