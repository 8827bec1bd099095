"""The wire protocol: round trips, versioning, and one clear error for any garbage."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import topics
from protocol.codec import (
    ProtocolError,
    decode,
    decode_event,
    encode,
    encode_event,
    encode_event_batch,
    split_event_batch,
)
from protocol.messages import (
    Ack,
    BarrierActuated,
    Command,
    Declaration,
    DeclarationChange,
    DeclarationChanges,
    DeviceFault,
    DeviceState,
    Event,
    EventBatch,
    LaneDecision,
    ManualOverride,
    PlateRead,
    Presence,
    SyncRequest,
    WeightMeasured,
    YardEntry,
    YardExit,
)
from protocol.plates import plate_key

NOW = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)

EVENTS: list[Event] = [
    PlateRead(at=NOW, plate="12C-345.67", country="VN", confidence=0.98, crop_jpeg=b"\xff\xd8"),
    WeightMeasured(at=NOW, kg=24560, stable=True),
    LaneDecision(at=NOW, plate="桂A4K9X1", decision="hold", reasons=["overweight"]),
    BarrierActuated(at=NOW, action="open", confirmed=True),
    Presence(at=NOW, present=False),
    YardEntry(at=NOW, yard="Y1", plate="12C34567"),
    YardExit(at=NOW, yard="Y1", plate="12C34567"),
    ManualOverride(at=NOW, by="guard.nguyen", reason="scanner fault"),
    DeviceFault(at=NOW, component="barrier", message="no open confirmation in 8 s"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_kind_round_trips_in_a_batch(event: Event) -> None:
    stamped = msgspec.structs.replace(event, seq=5, id="a-uuid")
    batch = decode(encode_event_batch("hn-b1", [encode_event(stamped)]), EventBatch)
    assert batch == EventBatch(device="hn-b1", events=[stamped])


def test_messages_round_trip() -> None:
    decl = Declaration(
        number="2026112300001",
        direction="import",
        gate="CKHN",
        plate="桂A4K9X1",
        nationality="CN",
        quarantine=["plant"],
    )
    for message in (
        Ack(device="hn-b1", upto=7, resend=True),
        SyncRequest(device="hn-b1", gate="CKHN", cursor=3),
        DeviceState(device="hn-b1", gate="CKHN", status="offline"),
        Command(id="c1", device="hn-b1", action="open", at=NOW, by="staff", reason="x"),
        DeclarationChanges(
            gate="CKHN",
            since=0,
            until=4,
            changes=[DeclarationChange(cursor=4, op="upsert", declaration=decl)],
        ),
    ):
        assert decode(encode(message), type(message)) == message


def test_times_keep_their_instant_and_naive_times_are_refused() -> None:
    hanoi = timezone(timedelta(hours=7))
    event = Presence(at=datetime(2026, 11, 23, 15, 30, tzinfo=hanoi), present=True)
    assert decode_event(encode_event(event)).at == NOW.replace(hour=8)
    naive = msgspec.msgpack.encode(
        {"kind": "presence", "at": "2026-11-23T08:00:00", "present": True}
    )
    with pytest.raises(ProtocolError, match="timezone"):
        decode_event(naive)


def test_another_protocol_version_is_refused_with_a_clear_reason() -> None:
    data = msgspec.msgpack.encode({"v": 2, "device": "hn-b1", "upto": 3})
    with pytest.raises(ProtocolError) as info:
        decode(data, Ack)
    assert "invalid Ack" in str(info.value) and "$.v" in str(info.value)


@pytest.mark.parametrize(
    "payload",
    [
        {"v": 1, "device": "hn-b1", "upto": -1},
        {"v": 1, "device": "hn/b1", "upto": 1},
        {"v": 1, "device": "hn-b1", "upto": "7"},
        {"v": 1, "device": "", "upto": 1},
    ],
)
def test_wrong_field_values_and_types_are_refused(payload: dict[str, object]) -> None:
    with pytest.raises(ProtocolError):
        decode(msgspec.msgpack.encode(payload), Ack)


def test_declaration_fields_are_validated() -> None:
    good = {
        "number": "2026112300001",
        "direction": "import",
        "gate": "CKHN",
        "plate": "12C-345.67",
        "nationality": "VN",
    }
    assert msgspec.convert(good, Declaration).number == "2026112300001"
    for bad in (
        {"number": "12345"},
        {"direction": "sideways"},
        {"nationality": "TH"},
        {"gate": "ck hn"},
    ):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(good | bad, Declaration)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_any_bytes_decode_to_a_message_or_a_protocol_error(data: bytes) -> None:
    for message_type in (EventBatch, Ack, DeclarationChanges, SyncRequest, DeviceState, Command):
        with contextlib.suppress(ProtocolError):
            decode(data, message_type)


def test_oversized_payloads_are_refused_before_decoding() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        decode(b"\x00" * (9 * 1024 * 1024), EventBatch)


def test_topics_are_built_in_one_place_and_refuse_wildcards() -> None:
    assert topics.events("hn-b1") == "bg/v1/dev/hn-b1/events"
    assert topics.gate_declarations("CKHN") == "bg/v1/gate/CKHN/declarations"
    assert topics.parse_device_topic("bg/v1/dev/hn-b1/ack") == ("hn-b1", "ack")
    for bad in ("hn/b1", "+", "#", "", "a b"):
        with pytest.raises(ValueError):
            topics.events(bad)
    with pytest.raises(ValueError):
        topics.parse_device_topic("bg/v1/gate/CKHN/declarations")


@pytest.mark.parametrize(
    ("plate", "key"),
    [
        ("12C-345.67", "12C34567"),
        ("12c 345 67", "12C34567"),
        ("桂A4K9X1", "A4K9X1"),
        ("A4K9X1", "A4K9X1"),
        ("桂A·12345", "A12345"),
        ("29H-888.12", "29H88812"),
    ],
)
def test_plate_keys_match_both_spellings(plate: str, key: str) -> None:
    assert plate_key(plate) == key


@pytest.mark.parametrize("plate", ["", "---", "桂", "12", "plate!!", "12C-345.67-89-00-11"])
def test_things_that_are_not_plates_are_refused(plate: str) -> None:
    with pytest.raises(ValueError):
        plate_key(plate)


_GOOD_WEIGHT = {
    "kind": "weight_measured",
    "seq": 1,
    "id": "e1",
    "at": datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
    "checkpoint": "barrier-in",
    "kg": 24560.0,
    "stable": True,
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kg": float("nan")}, "kg"),
        ({"kg": 1e30}, "kg"),
        ({"kg": -1e308}, "kg"),
        ({"seq": 2**63}, "seq"),
        ({"checkpoint": "barrier\x00in"}, "checkpoint"),
        ({"checkpoint": "barrier\u202ein"}, "checkpoint"),
        ({"id": "x" * 65}, "id"),
    ],
)
def test_an_event_out_of_bounds_is_refused_naming_the_field(
    change: dict[str, object], field: str
) -> None:
    """As central takes a batch: the event is kept aside as invalid, the reason naming the
    field (or, without a usable seq and id, refused as unreadable)."""
    good = msgspec.msgpack.encode({"v": 1, "device": "b1", "events": [_GOOD_WEIGHT]})
    assert [e.seq for e in split_event_batch(good).events] == [1]
    bad = msgspec.msgpack.encode({"v": 1, "device": "b1", "events": [_GOOD_WEIGHT | change]})
    split = split_event_batch(bad)
    assert split.events == []
    reasons = [i.reason for i in split.invalid] + split.unreadable
    assert len(reasons) == 1 and field in reasons[0], reasons


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"declared_weight_kg": float("nan")}, "declared_weight_kg"),
        ({"declared_weight_kg": -5.0}, "declared_weight_kg"),
        ({"driver_name": "x" * 129}, "driver_name"),
        ({"hs_codes": ["0810"] * 101}, "hs_codes"),
        ({"hs_codes": ["not-a-code"]}, "hs_codes"),
        ({"steps": {"customs": {"done": True, "at": "9999-01-01T00:00:00Z"}}}, "steps"),
        ({"steps": {"Customs Check!": {"done": True}}}, "steps"),
    ],
)
def test_a_declaration_out_of_bounds_is_refused_naming_the_field(
    change: dict[str, object], field: str
) -> None:
    good = {
        "number": "2026112300001",
        "direction": "import",
        "gate": "CKHN",
        "plate": "12C-345.67",
        "nationality": "VN",
        "hs_codes": ["0810.90"],
    }
    assert msgspec.convert(good, Declaration).hs_codes == ["0810.90"]
    with pytest.raises(msgspec.ValidationError, match=field):
        msgspec.convert(good | change, Declaration)
