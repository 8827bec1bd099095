"""The box's configuration: a TOML file decoded into msgspec Structs (unknown keys refused).

This is the box's one settings module: Structs only, no runtime imports (loading a config
never loads OpenCV, OpenVINO or a serial port). Drivers and lanes take these Structs as they
are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec

from edge_agent.anpr.region import Region
from edge_agent.lane.policy import Policy
from protocol.config_file import check_readable, load_toml
from protocol.errors import ConfigError
from protocol.messages import MAX_BATCH_EVENTS, DeviceId, GateCode
from protocol.mqtt_settings import MqttSettings


class SyncSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    batch_max_events: int = 500
    batch_max_bytes: int = 256 * 1024
    #: Events published but not yet acknowledged by central, at most.
    window_events: int = 5000
    #: No progress in acks for this long while events are in flight: resend from the last ack.
    ack_timeout_s: float = 5.0
    #: Each resend without progress doubles the wait, up to this (central may hold the ack
    #: on purpose: a seq conflict waiting for a person).
    ack_timeout_max_s: float = 60.0
    #: How often the outbox is looked at when no local producer signals new events.
    poll_interval_s: float = 0.05
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0

    def __post_init__(self) -> None:
        if not 1 <= self.batch_max_events <= min(self.window_events, MAX_BATCH_EVENTS):
            raise ValueError(
                f"sync: need 1 <= batch_max_events <= window_events and <= {MAX_BATCH_EVENTS}"
            )
        if self.ack_timeout_s <= 0 or self.poll_interval_s <= 0:
            raise ValueError("sync: ack_timeout_s and poll_interval_s must be positive")


class StoreSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    path: str = "cuakhau-agent.db"
    synchronous: Literal["FULL", "NORMAL", "EXTRA"] = "FULL"
    retention_days: float = 30.0


class SyntheticSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A generator of made-up events, for demos and benchmarks (no devices needed)."""

    rate_per_s: float = 1.0
    #: Stop after this many events (0: run until stopped).
    count: int = 0
    checkpoint: str = "barrier-in"


class SerialSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """A serial line: any pyserial URL (a device path, ``socket://``, ``rfc2217://``)."""

    url: str
    baudrate: int = 9600
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1


class BarrierConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A Modbus RTU relay board (``url``) or GPIO value files (``gpio``)."""

    type: Literal["modbus", "gpio"] = "modbus"
    url: str | None = None
    baudrate: int = 9600
    unit: int = 1
    open_relay: int = 0
    close_relay: int = 1
    loop_input: int = 0
    open_limit_input: int = 1
    closed_limit_input: int = 2
    #: how many discrete inputs the board has (read in one request)
    inputs: int = 8
    response_timeout_s: float = 0.3
    retries: int = 2
    pulse_s: float = 0.5
    confirm_timeout_s: float = 8.0
    #: for type = "gpio": value-file paths for open, close, loop, open_limit, closed_limit
    gpio: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.type == "modbus" and not self.url:
            raise ValueError("barrier: a Modbus barrier needs url (serial port)")
        if self.type == "gpio":
            needed = {"open", "close", "loop", "open_limit", "closed_limit"}
            if not self.gpio or needed - set(self.gpio):
                raise ValueError(f"barrier: a GPIO barrier needs gpio paths for {sorted(needed)}")


class ScaleConfig(SerialSettings, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """A weighing indicator: its serial line and which protocol it speaks."""

    protocol: str

    def __post_init__(self) -> None:
        from edge_agent.devices.scale.protocols import PARSERS

        if self.protocol not in PARSERS:
            raise ValueError(
                f"scale: unknown protocol {self.protocol!r}; one of {', '.join(sorted(PARSERS))}"
            )


class IdentifySettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    agree: int = 2
    timeout_s: float = 3.0
    #: one read this sure, of a plate the cache knows, decides without waiting for more
    fast_confidence: float = 0.95
    min_confidence: float = 0.5
    #: agreement on a plate the cache does not know: keep reading this much longer (within
    #: timeout_s) in case it is a misread of one it knows -- a hold deserves the evidence
    unknown_extra_s: float = 1.0


class LaneConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    policy: Policy
    barrier: BarrierConfig
    camera: str | None = None
    #: the part of the camera's frame where plates pass (x1, y1, x2, y2 in pixels): the
    #: detector looks only there, at up to full resolution (``cuakhau probe camera`` shows it)
    region: (
        Annotated[
            list[Annotated[int, msgspec.Meta(ge=0, le=20_000)]],
            msgspec.Meta(min_length=4, max_length=4),
        ]
        | None
    ) = None
    #: or, where the lane is not square to the camera, its corners ([[x, y], ...], 3 to 16):
    #: the detector looks at their bounding rectangle with the rest blanked, and a plate whose
    #: centre lies outside is not this lane's
    region_polygon: (
        Annotated[
            list[
                Annotated[
                    list[Annotated[int, msgspec.Meta(ge=0, le=20_000)]],
                    msgspec.Meta(min_length=2, max_length=2),
                ]
            ],
            msgspec.Meta(min_length=3, max_length=16),
        ]
        | None
    ) = None
    scale: ScaleConfig | None = None
    identify: IdentifySettings = msgspec.field(default_factory=IdentifySettings)
    weighing_timeout_s: float = 8.0
    #: how often the lane looks at the loop detector
    poll_s: float = 0.02
    #: consecutive clear loop readings that mean the vehicle has gone
    clear_reads: int = 4

    def __post_init__(self) -> None:
        if self.region is not None and self.region_polygon is not None:
            raise ValueError("lanes: region or region_polygon, not both")
        self.detector_region  # noqa: B018 -- refuses a region too small to look at

    @property
    def detector_region(self) -> Region | None:
        """Where the detector looks (None: the whole frame); ValueError where it is too small."""
        try:
            if self.region is not None:
                return Region.rectangle(*self.region)
            if self.region_polygon is not None:
                return Region.of_polygon(self.region_polygon)
        except ValueError as exc:
            raise ValueError(f"lanes.{exc}") from None
        return None


class IdentitySettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Who the box is and whom it trusts (written by ``cuakhau provision enrol``)."""

    #: the box's Ed25519 private key (PEM, mode 0600): it seals every batch it sends
    key_file: str
    #: central's Ed25519 public key (base64): acks, commands and declaration changes must
    #: carry central's signature, or the box refuses them
    central_key: str


class AgentConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    device: DeviceId
    gate: GateCode
    mqtt: MqttSettings = msgspec.field(default_factory=MqttSettings)
    #: an enrolled box's keys (absent: an unenrolled box, for simulators and development)
    identity: IdentitySettings | None = None
    sync: SyncSettings = msgspec.field(default_factory=SyncSettings)
    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    synthetic: SyntheticSettings | None = None
    lanes: list[LaneConfig] = msgspec.field(default_factory=list)
    #: folder with the ANPR IR models (default: the package's models/)
    models: str | None = None
    #: which plate reader runs: "float" (the trained weights), "int8" (quantized: faster, above
    #: all on a CPU without bf16, where a line takes a half to a third of the time; see
    #: models/README.md), or "auto": float on a CPU with bf16, else int8
    reader: Literal["auto", "float", "int8"] = "auto"


def load_config(path: str | Path) -> AgentConfig:
    """Read and validate an agent config file; ConfigError says what is wrong and where."""
    path = Path(path)
    config = load_toml(path, AgentConfig)
    check_readable(config.mqtt.password_file, "mqtt.password_file", path)
    check_readable(config.mqtt.ca_file, "mqtt.ca_file", path)
    if config.identity is not None:
        if not Path(config.identity.key_file).is_absolute():
            config.identity.key_file = str(path.parent / config.identity.key_file)
        check_readable(config.identity.key_file, "identity.key_file", path)
    store_path = Path(config.store.path)
    if not store_path.is_absolute():
        config.store.path = str(path.parent / store_path)
    if config.models and not Path(config.models).is_absolute():
        config.models = str(path.parent / config.models)
    return config


__all__ = ["AgentConfig", "ConfigError", "load_config"]
