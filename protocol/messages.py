"""Every message that crosses the wire between gate boxes and central.

Each top-level message carries ``v`` (the protocol version, validated on decode) and is a
msgspec Struct. Events are a tagged union on ``kind``. Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

#: The one protocol version this code speaks. A message with another ``v`` is rejected.
VERSION = 1

Version = Literal[1]
Direction = Literal["import", "export", "transit"]
Nationality = Literal["VN", "CN"]
Checkpoint = str  # e.g. "barrier-in", "barrier-out", "yard-in", "yard-out"

#: Device ids double as MQTT client ids and topic levels: no '/', '+', '#' or spaces.
DeviceId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
GateCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{1,16}$")]
UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
Seq = Annotated[int, msgspec.Meta(ge=0)]
DeclarationNumber = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{13}$")]
PlateText = Annotated[str, msgspec.Meta(min_length=4, max_length=16)]


class _Event(msgspec.Struct, kw_only=True, frozen=True, tag_field="kind"):
    """Fields every event has. ``seq`` is assigned by the gate box's outbox, never reused."""

    seq: Seq = 0
    id: str = ""
    at: UtcTime
    checkpoint: str = ""


class PlateRead(_Event, frozen=True, tag="plate_read"):
    plate: str
    country: Nationality | None = None
    confidence: float = 0.0
    crop_jpeg: bytes | None = None


class WeightMeasured(_Event, frozen=True, tag="weight_measured"):
    kg: float
    stable: bool
    net: bool = False
    plate: str | None = None


class LaneDecision(_Event, frozen=True, tag="lane_decision"):
    plate: str | None
    decision: Literal["open", "hold"]
    reasons: list[str] = []
    declaration: str | None = None
    weight_kg: float | None = None
    crop_jpeg: bytes | None = None


class BarrierActuated(_Event, frozen=True, tag="barrier_actuated"):
    action: Literal["open", "close"]
    confirmed: bool
    plate: str | None = None


class Presence(_Event, frozen=True, tag="presence"):
    present: bool


class YardEntry(_Event, frozen=True, tag="yard_entry"):
    yard: str
    plate: str


class YardExit(_Event, frozen=True, tag="yard_exit"):
    yard: str
    plate: str


class ManualOverride(_Event, frozen=True, tag="manual_override"):
    by: str
    reason: str
    command_id: str | None = None
    plate: str | None = None


class DeviceFault(_Event, frozen=True, tag="device_fault"):
    component: str
    message: str


Event = (
    PlateRead
    | WeightMeasured
    | LaneDecision
    | BarrierActuated
    | Presence
    | YardEntry
    | YardExit
    | ManualOverride
    | DeviceFault
)


def event_kind(event: Event) -> str:
    """The ``kind`` tag of an event (``plate_read``, ``lane_decision``, ...)."""
    return str(type(event).__struct_config__.tag)


EVENT_KINDS: tuple[str, ...] = (
    "plate_read",
    "weight_measured",
    "lane_decision",
    "barrier_actuated",
    "presence",
    "yard_entry",
    "yard_exit",
    "manual_override",
    "device_fault",
)


class EventBatch(msgspec.Struct, kw_only=True, frozen=True):
    """Up: ``dev/{device}/events``. Events in ascending, per-device ``seq`` order."""

    v: Version = 1
    device: DeviceId
    events: list[Event]


class Ack(msgspec.Struct, kw_only=True, frozen=True):
    """Down: ``dev/{device}/ack``. Central has committed every seq up to and including ``upto``.

    ``resend`` is set when central holds events beyond a gap, so the box should resend from
    ``upto + 1`` at once instead of waiting for its ack timeout.
    """

    v: Version = 1
    device: DeviceId
    upto: Seq
    resend: bool = False


class StepFlag(msgspec.Struct, kw_only=True, frozen=True):
    """One agency step on a declaration (border guard, customs, quarantine, fees...)."""

    done: bool = False
    at: UtcTime | None = None
    user: str | None = None
    note: str | None = None


class Declaration(msgspec.Struct, kw_only=True, frozen=True):
    """A pre-declared crossing of one vehicle, mirroring the Lang Son platform's fields."""

    number: DeclarationNumber  # YYYYMMDD + 5-digit sequence
    direction: Direction
    gate: GateCode
    plate: PlateText
    nationality: Nationality
    trailer_plate: str | None = None
    container_no: str | None = None
    driver_name: str | None = None
    driver_id: str | None = None
    driver_phone: str | None = None
    vehicle_class: str | None = None
    declared_weight_kg: float | None = None
    hs_codes: list[str] = []
    quarantine: list[Literal["health", "animal", "plant"]] = []
    enterprise: str | None = None
    status: Literal["declared", "accepted", "returned", "cancelled", "exited"] = "declared"
    steps: dict[str, StepFlag] = {}


class DeclarationChange(msgspec.Struct, kw_only=True, frozen=True):
    cursor: Seq
    op: Literal["upsert", "delete"]
    declaration: Declaration


class DeclarationChanges(msgspec.Struct, kw_only=True, frozen=True):
    """Down: ``gate/{gate}/declarations`` (live) or ``dev/{device}/declarations`` (replies).

    ``since`` is the cursor these changes follow on from: a box whose own cursor is below
    ``since`` has missed something and must ask again with a SyncRequest. ``until`` is the
    cursor the box holds once it has applied this message. ``changes`` are in cursor order.
    """

    v: Version = 1
    gate: GateCode
    since: Seq
    until: Seq
    changes: list[DeclarationChange]
    more: bool = False
    #: Central's history does not reach back to the box's cursor (e.g. a rebuilt central):
    #: the box drops its cache of this gate and applies these changes from scratch.
    reset: bool = False


class SyncRequest(msgspec.Struct, kw_only=True, frozen=True):
    """Up: ``dev/{device}/sync``. Ask for every declaration change after ``cursor``."""

    v: Version = 1
    device: DeviceId
    gate: GateCode
    cursor: Seq


class DeviceState(msgspec.Struct, kw_only=True, frozen=True):
    """Up, retained: ``dev/{device}/state``. Also the box's last will (status offline)."""

    v: Version = 1
    device: DeviceId
    gate: GateCode
    status: Literal["online", "offline"]
    at: UtcTime | None = None
    software: str | None = None
    outbox_pending: int | None = None
    acked_seq: int | None = None


class Command(msgspec.Struct, kw_only=True, frozen=True):
    """Down: ``dev/{device}/cmd``. Issued by authorised central staff."""

    v: Version = 1
    id: str
    device: DeviceId
    action: Literal["open", "reset_fault", "reload_config", "resync"]
    at: UtcTime
    by: str
    reason: str = ""
    checkpoint: str | None = None
