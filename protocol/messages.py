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

#: The largest integer any message carries: SQLite's INTEGER is a signed 64-bit number.
MAX_INT = 2**63 - 1
#: Events per batch, at most (a box's ``batch_max_events`` may not exceed it).
MAX_BATCH_EVENTS = 10_000
#: A plate crop's JPEG, at most.
MAX_CROP_BYTES = 512 * 1024

Version = Literal[1]
Direction = Literal["import", "export", "transit"]
Nationality = Literal["VN", "CN"]

#: No control characters and no bidirectional overrides (which make a log line lie).
_PRINTABLE = r"^[^\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]*$"

#: Device ids double as MQTT client ids and topic levels: no '/', '+', '#' or spaces.
DeviceId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
GateCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{1,16}$")]
#: A checkpoint of a gate: ``barrier-in``, ``barrier-out``, ``yard-in``... ("" when none).
CHECKPOINT_PATTERN = r"^(?:[A-Za-z0-9][A-Za-z0-9_.-]*)?$"
CheckpointName = Annotated[str, msgspec.Meta(max_length=64, pattern=CHECKPOINT_PATTERN)]
UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)]
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)]
EVENT_ID_PATTERN = r"^[A-Za-z0-9_.:-]*$"
EventId = Annotated[str, msgspec.Meta(max_length=64, pattern=EVENT_ID_PATTERN)]
DeclarationNumber = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{13}$")]
PlateText = Annotated[str, msgspec.Meta(min_length=4, max_length=16, pattern=_PRINTABLE)]
#: What a reader made of a plate: bounded, printable (a misread is still evidence).
PlateReading = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=_PRINTABLE)]
#: Weights from an indicator or a declaration, in kg (negative: an indicator below zero).
Kg = Annotated[float, msgspec.Meta(ge=-100_000, le=1_000_000)]
DeclaredKg = Annotated[float, msgspec.Meta(gt=0, le=1_000_000)]
Confidence = Annotated[float, msgspec.Meta(ge=0, le=1)]
Jpeg = Annotated[bytes, msgspec.Meta(max_length=MAX_CROP_BYTES)]
Hash = Annotated[bytes, msgspec.Meta(max_length=32)]
#: an Ed25519 signature
Signature = Annotated[bytes, msgspec.Meta(max_length=64)]
Name = Annotated[str, msgspec.Meta(max_length=64, pattern=_PRINTABLE)]
#: who did something: a user name, or ``token:`` and a token's name
Actor = Annotated[str, msgspec.Meta(max_length=80, pattern=_PRINTABLE)]
Text = Annotated[str, msgspec.Meta(max_length=500, pattern=_PRINTABLE)]
StepName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
ContainerNo = Annotated[str, msgspec.Meta(max_length=16, pattern=_PRINTABLE)]
PersonName = Annotated[str, msgspec.Meta(max_length=128, pattern=_PRINTABLE)]
DocumentId = Annotated[str, msgspec.Meta(max_length=32, pattern=_PRINTABLE)]
VehicleClass = Annotated[str, msgspec.Meta(max_length=16, pattern=_PRINTABLE)]
Quarantine = Literal["health", "animal", "plant"]
DeclarationStatus = Literal["declared", "accepted", "returned", "cancelled", "exited"]
HsCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{2,4}(?:\.?[0-9]{2}){0,4}$")]


class _Event(msgspec.Struct, kw_only=True, frozen=True, tag_field="kind"):
    """Fields every event has. ``seq`` is assigned by the gate box's outbox, never reused."""

    seq: Seq = 0
    #: an event's id and checkpoint are checked by ``protocol.codec.event_text_problem`` on
    #: the way in (a per-field pattern here would cost every event two regular expressions)
    id: Annotated[str, msgspec.Meta(max_length=64)] = ""
    at: UtcTime
    checkpoint: Annotated[str, msgspec.Meta(max_length=64)] = ""
    #: SHA-256 of the box's previous event as encoded (its hash chain; empty: the first)
    prev: Hash = b""


class PlateRead(_Event, frozen=True, tag="plate_read"):
    plate: PlateReading
    country: Nationality | None = None
    confidence: Confidence = 0.0
    crop_jpeg: Jpeg | None = None


class WeightMeasured(_Event, frozen=True, tag="weight_measured"):
    kg: Kg
    stable: bool
    net: bool = False
    plate: PlateReading | None = None


class LaneDecision(_Event, frozen=True, tag="lane_decision"):
    plate: PlateReading | None
    decision: Literal["open", "hold"]
    reasons: Annotated[list[Text], msgspec.Meta(max_length=32)] = []
    declaration: DeclarationNumber | None = None
    weight_kg: Kg | None = None
    crop_jpeg: Jpeg | None = None


class BarrierActuated(_Event, frozen=True, tag="barrier_actuated"):
    action: Literal["open", "close"]
    confirmed: bool
    plate: PlateReading | None = None


class Presence(_Event, frozen=True, tag="presence"):
    present: bool


class YardEntry(_Event, frozen=True, tag="yard_entry"):
    yard: CheckpointName
    plate: PlateReading


class YardExit(_Event, frozen=True, tag="yard_exit"):
    yard: CheckpointName
    plate: PlateReading


class ManualOverride(_Event, frozen=True, tag="manual_override"):
    by: Actor
    reason: Text
    command_id: EventId | None = None
    plate: PlateReading | None = None


class DeviceFault(_Event, frozen=True, tag="device_fault"):
    component: Name
    message: Text


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
    events: Annotated[list[Event], msgspec.Meta(max_length=MAX_BATCH_EVENTS)]
    #: the box's signature over its device and the event array as encoded
    seal: Signature | None = None


class Ack(msgspec.Struct, kw_only=True, frozen=True):
    """Down: ``dev/{device}/ack``. Central has committed every seq up to and including ``upto``.

    ``resend`` is set when central holds events beyond a gap, so the box should resend from
    ``upto + 1`` at once instead of waiting for its ack timeout.
    """

    v: Version = 1
    device: DeviceId
    upto: Seq
    resend: bool = False
    #: central's signature
    sig: Signature | None = None


class StepFlag(msgspec.Struct, kw_only=True, frozen=True):
    """One agency step on a declaration (border guard, customs, quarantine, fees...)."""

    done: bool = False
    at: UtcTime | None = None
    user: Actor | None = None
    note: Text | None = None
    #: a customs check's outcome
    result: Literal["match", "mismatch"] | None = None
    #: a receipt or online payment reference (fees)
    reference: DocumentId | None = None

    def __post_init__(self) -> None:
        if self.at is not None and not 2000 <= self.at.year < 2100:
            raise ValueError(f"step time {self.at.isoformat()} is outside 2000-2099")


class DeclaredFields(msgspec.Struct, kw_only=True, frozen=True):
    """What an enterprise declares about one vehicle's crossing (``Declaration`` adds what the
    agencies make of it)."""

    number: DeclarationNumber  # YYYYMMDD + 5-digit sequence
    direction: Direction
    gate: GateCode
    plate: PlateText
    nationality: Nationality
    trailer_plate: PlateText | None = None
    container_no: ContainerNo | None = None
    driver_name: PersonName | None = None
    driver_id: DocumentId | None = None
    driver_phone: DocumentId | None = None
    vehicle_class: VehicleClass | None = None
    declared_weight_kg: DeclaredKg | None = None
    hs_codes: Annotated[list[HsCode], msgspec.Meta(max_length=100)] = []
    quarantine: Annotated[list[Quarantine], msgspec.Meta(max_length=3)] = []
    #: the declaring enterprise's tax code
    enterprise: Name | None = None


class Declaration(DeclaredFields, kw_only=True, frozen=True):
    """A pre-declared crossing of one vehicle, mirroring the Lang Son platform's fields."""

    status: DeclarationStatus = "declared"
    steps: Annotated[dict[StepName, StepFlag], msgspec.Meta(max_length=32)] = {}
    #: why it was returned for re-declaration (while ``status`` is returned)
    return_reason: Text | None = None


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
    #: central's signature
    sig: Signature | None = None


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
    software: Name | None = None
    outbox_pending: Count | None = None
    acked_seq: Seq | None = None
    #: when the oldest event central has not acknowledged yet was recorded
    oldest_pending_at: UtcTime | None = None
    #: each lane's state by checkpoint (idle, deciding, held, passing, fault, ...)
    lanes: Annotated[dict[CheckpointName, Name], msgspec.Meta(max_length=32)] = {}
    #: the plate reader the lanes run ("float" or "int8")
    reader: Name | None = None


class Command(msgspec.Struct, kw_only=True, frozen=True):
    """Down: ``dev/{device}/cmd``. Issued by authorised central staff."""

    v: Version = 1
    id: EventId
    device: DeviceId
    action: Literal["open", "reset_fault", "reload_config", "resync"]
    at: UtcTime
    by: Actor
    reason: Text = ""
    checkpoint: CheckpointName | None = None
    #: an open for a held truck names it: its plate as read and when it was held; the box
    #: refuses the open when the truck its lane holds now is another one
    plate: PlateReading | None = None
    held_at: UtcTime | None = None
    #: central's signature
    sig: Signature | None = None
