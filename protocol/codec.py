"""msgpack on the wire, JSON over HTTP. Decoding anything malformed raises ``ProtocolError``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.messages import (
    CHECKPOINT_PATTERN,
    EVENT_ID_PATTERN,
    MAX_BATCH_EVENTS,
    Ack,
    Command,
    DeclarationChanges,
    DeviceId,
    DeviceState,
    Event,
    EventBatch,
    EventId,
    Seq,
    SyncRequest,
    Version,
)
from protocol.signing import seal

T = TypeVar("T")

#: Largest payload any decoder accepts (an event batch with plate crops stays well below).
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024


class ProtocolError(ValueError):
    """A payload that is not a valid message of the expected type and version."""

    def __init__(self, message_type: str, reason: str) -> None:
        super().__init__(f"invalid {message_type}: {reason}")
        self.message_type = message_type
        self.reason = reason


_encoder = msgspec.msgpack.Encoder()
_decoders: dict[type[Any], msgspec.msgpack.Decoder[Any]] = {}


def encode(message: msgspec.Struct) -> bytes:
    """Encode any protocol message to msgpack."""
    return _encoder.encode(message)


def decode(data: bytes | bytearray | memoryview, message_type: type[T]) -> T:
    """Decode msgpack ``data`` as ``message_type``; any failure is a ``ProtocolError``."""
    name = getattr(message_type, "__name__", str(message_type))
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(name, f"payload of {len(data)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    decoder = _decoders.get(message_type)
    if decoder is None:
        decoder = _decoders[message_type] = msgspec.msgpack.Decoder(message_type)
    try:
        result: T = decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ProtocolError(name, str(exc)) from None
    return result


# -- events stored individually in the outbox and spliced into batches without re-encoding ---

_event_decoder: msgspec.msgpack.Decoder[Event] = msgspec.msgpack.Decoder(Event)


class _RawEventBatch(msgspec.Struct, kw_only=True, frozen=True):
    v: int
    device: str
    #: the event array, already encoded (what the seal signs)
    events: msgspec.Raw
    seal: bytes | None = None


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(data: bytes) -> Event:
    try:
        return _event_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ProtocolError("Event", str(exc)) from None


def encode_event_batch(
    device: str, encoded_events: list[bytes], key: Ed25519PrivateKey | None = None
) -> bytes:
    """Build an ``EventBatch`` from already-encoded events (as the outbox stores them),
    sealed with the box's ``key`` when it has one (see ``protocol/signing.py``)."""
    array = _encoder.encode([msgspec.Raw(e) for e in encoded_events])
    return _encoder.encode(
        _RawEventBatch(
            v=1,
            device=device,
            events=msgspec.Raw(array),
            seal=seal(key, device, array) if key is not None else None,
        )
    )


# -- event batches from outside, split event by event -------------------------------------

#: Event times outside this range are refused as implausible (a box clock reset to 1970,
#: year 1 or 9999 from a careless integrator); the event is kept aside, not lost.
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_EVENT = datetime(2100, 1, 1, tzinfo=UTC)


class _BatchEnvelope(msgspec.Struct, kw_only=True, frozen=True):
    v: Version
    device: DeviceId
    events: msgspec.Raw
    seal: Annotated[bytes, msgspec.Meta(max_length=64)] | None = None


class _EventHead(msgspec.Struct, kw_only=True, frozen=True):
    seq: Seq
    id: EventId


@dataclass(frozen=True)
class InvalidEvent:
    """An event whose ``seq`` and ``id`` could be read but whose content is not valid."""

    seq: int
    id: str
    reason: str
    payload: bytes


@dataclass
class SplitBatch:
    device: str
    #: the event array exactly as received, and the box's signature over it
    array: bytes = b""
    seal: bytes | None = None
    events: list[Event] = field(default_factory=list)
    #: each valid event's encoding as sent (for its hash in the box's chain); None: all of
    #: the array's, in order (``bodies()`` splits them when asked)
    _bodies: list[msgspec.Raw] | None = None

    def bodies(self) -> list[msgspec.Raw]:
        if self._bodies is None:
            self._bodies = _raw_list_decoder.decode(self.array)
        return self._bodies

    invalid: list[InvalidEvent] = field(default_factory=list)
    #: events without a readable seq and id: nothing can place them, they are refused
    unreadable: list[str] = field(default_factory=list)


_envelope_decoder = msgspec.msgpack.Decoder(_BatchEnvelope)
_head_decoder = msgspec.msgpack.Decoder(_EventHead)


_raw_list_decoder = msgspec.msgpack.Decoder(list[msgspec.Raw])
_events_decoder = msgspec.msgpack.Decoder(list[Event])


_CHECKPOINT = re.compile(CHECKPOINT_PATTERN)
_EVENT_ID = re.compile(EVENT_ID_PATTERN)
#: checkpoint names seen valid (a gate has a handful): checked once, then looked up
_good_checkpoints: set[str] = set()


def event_text_problem(event: Event) -> str | None:
    """What is wrong with an event's id or checkpoint (control or bidi characters, a name
    that is no checkpoint name), or None."""
    checkpoint = event.checkpoint
    if checkpoint not in _good_checkpoints:
        if not _CHECKPOINT.match(checkpoint):
            return f"checkpoint {checkpoint[:64]!r} is no checkpoint name"
        if len(_good_checkpoints) < 10_000:
            _good_checkpoints.add(checkpoint)
    if not _EVENT_ID.match(event.id):
        return f"event id {event.id[:64]!r}: letters, digits, '_', '.', ':', '-' only"
    return None


def split_event_batch(data: bytes | bytearray | memoryview) -> SplitBatch:
    """Decode an ``EventBatch`` event by event: one bad event never sinks the others.

    ProtocolError when the envelope itself (version, device, event list) is not valid.
    """
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ProtocolError("EventBatch", f"payload of {len(data)} bytes exceeds limit")
    try:
        envelope = _envelope_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ProtocolError("EventBatch", str(exc)) from None
    array = bytes(envelope.events)
    batch = SplitBatch(device=envelope.device, array=array, seal=envelope.seal)
    try:  # the common case, a box's own batch: decoded in one go
        whole = _events_decoder.decode(array)
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
    else:
        if len(whole) > MAX_BATCH_EVENTS:
            raise ProtocolError("EventBatch", f"{len(whole)} events; at most {MAX_BATCH_EVENTS}")
        if all(
            EARLIEST_EVENT.year <= e.at.year < LATEST_EVENT.year and not event_text_problem(e)
            for e in whole
        ):
            batch.events = whole
            return batch
    try:
        raws = _raw_list_decoder.decode(array)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ProtocolError("EventBatch", str(exc)) from None
    if len(raws) > MAX_BATCH_EVENTS:
        raise ProtocolError("EventBatch", f"{len(raws)} events; at most {MAX_BATCH_EVENTS}")
    batch._bodies = []
    for raw in raws:
        body = bytes(raw)
        try:
            event = _event_decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            reason = str(exc)
        else:
            problem = event_text_problem(event)
            if problem is None and EARLIEST_EVENT <= event.at < LATEST_EVENT:
                batch.events.append(event)
                batch._bodies.append(raw)
                continue
            reason = problem or f"time {event.at.isoformat()} outside {EARLIEST_EVENT.year}-2099"
        try:
            head = _head_decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            batch.unreadable.append(f"{reason}; no seq and id: {exc}")
            continue
        batch.invalid.append(InvalidEvent(head.seq, head.id, reason, body))
    return batch


def to_json(obj: Any) -> bytes:
    return msgspec.json.encode(obj)


__all__ = [
    "Ack",
    "Command",
    "DeclarationChanges",
    "DeviceState",
    "EventBatch",
    "InvalidEvent",
    "ProtocolError",
    "SplitBatch",
    "SyncRequest",
    "decode",
    "decode_event",
    "encode",
    "encode_event",
    "encode_event_batch",
    "split_event_batch",
    "to_json",
]
