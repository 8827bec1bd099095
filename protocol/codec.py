"""msgpack on the wire, JSON over HTTP. Decoding anything malformed raises ``ProtocolError``."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from protocol.messages import (
    Ack,
    Command,
    DeclarationChanges,
    DeviceState,
    Event,
    EventBatch,
    SyncRequest,
)

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
    events: list[msgspec.Raw]


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(data: bytes) -> Event:
    try:
        return _event_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ProtocolError("Event", str(exc)) from None


def encode_event_batch(device: str, encoded_events: list[bytes]) -> bytes:
    """Build an ``EventBatch`` from already-encoded events (as the outbox stores them)."""
    return _encoder.encode(
        _RawEventBatch(v=1, device=device, events=[msgspec.Raw(e) for e in encoded_events])
    )


def to_json(obj: Any) -> bytes:
    return msgspec.json.encode(obj)


__all__ = [
    "Ack",
    "Command",
    "DeclarationChanges",
    "DeviceState",
    "EventBatch",
    "ProtocolError",
    "SyncRequest",
    "decode",
    "decode_event",
    "encode",
    "encode_event",
    "encode_event_batch",
    "to_json",
]
