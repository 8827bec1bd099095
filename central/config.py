"""Central's configuration (TOML ``[central]`` file or command-line options)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from protocol.config_file import check_readable, load_toml
from protocol.errors import ConfigError
from protocol.mqtt_settings import MqttSettings


class BrokerAccessSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Where central writes the broker's password and ACL files (and its TLS material), and
    how boxes reach the broker (given to each box at enrolment)."""

    dir: str
    #: Mosquitto's pid file: central sends it SIGHUP after each enrolment or revocation
    pid_file: str | None = None
    public_host: str = "127.0.0.1"
    public_port: int = 8883


class UiSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The staff UI (``/ui``)."""

    #: the gate's time zone: every time on the pages is shown in it
    time_zone: str = "Asia/Ho_Chi_Minh"
    #: each yard's capacity in vehicles, drawn on the gate picture's occupancy chart
    yard_capacity: dict[str, Annotated[int, msgspec.Meta(ge=0, le=100_000)]] = {}
    #: the legal gross weight by vehicle class ("default" for the rest), shown on held trucks
    legal_gross_kg: dict[str, Annotated[float, msgspec.Meta(gt=0, le=1_000_000)]] = {}
    #: where the front-end assets were installed (``npm ci``); default: the checkout's
    #: ``node_modules``
    assets_dir: str | None = None


class CentralConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    db: str = "cuakhau-central.db"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    mqtt: MqttSettings = msgspec.field(default_factory=MqttSettings)
    client_id: str = "cuakhau-central"
    #: MQTT 5 shared-subscription group, so several central workers split the ingest.
    shared_group: str | None = None
    #: mark the session cookie Secure: set it when central is reached over HTTPS (a TLS proxy)
    secure_cookies: bool = False
    #: central's Ed25519 key (signs acks, commands, declaration changes); default: next to db
    key_file: str | None = None
    #: refuse events from boxes that were never enrolled (always true in production; false
    #: lets simulators and development boxes sync without enrolment)
    require_enrolment: bool = False
    broker_access: BrokerAccessSettings | None = None
    #: how long one API read may run before it is stopped with a 503 (ms; default 2000)
    read_budget_ms: Annotated[float, msgspec.Meta(gt=0, le=600_000)] | None = None
    ui: UiSettings = msgspec.field(default_factory=UiSettings)

    @property
    def central_key_file(self) -> str:
        return self.key_file or f"{self.db}.key"


def load_central_config(path: str | Path) -> CentralConfig:
    """Read and validate central's config file; ConfigError says what is wrong and where."""
    config = load_toml(path, CentralConfig)
    check_readable(config.mqtt.password_file, "mqtt.password_file", Path(path))
    check_readable(config.mqtt.ca_file, "mqtt.ca_file", Path(path))
    try:
        ZoneInfo(config.ui.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{path}: ui.time_zone {config.ui.time_zone!r} is no time zone this machine knows"
        ) from None
    return config
