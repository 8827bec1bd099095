"""Central's store: idempotent ingest on (device, seq), the highest contiguous seq, conflicts
and other incidents, declaration changes that never block, upgrades of older files."""

from __future__ import annotations

import itertools
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from central.schema import MIGRATIONS
from central.store import CentralStore, ConflictError
from protocol.codec import InvalidEvent, encode
from protocol.messages import Declaration, Event, Presence
from protocol.sqlite_file import SchemaError

FIXTURES = Path(__file__).parent / "fixtures"

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def events(*seqs: int, prefix: str = "id") -> list[Event]:
    return [Presence(at=NOW, present=True, seq=s, id=f"{prefix}{s}") for s in seqs]


@pytest.fixture
def store(tmp_path: Path) -> CentralStore:
    return CentralStore(tmp_path / "central.db")


def test_ingest_is_idempotent_on_device_and_seq(store: CentralStore) -> None:
    assert store.ingest("b1", events(1, 2, 3)).stored == 3
    again = store.ingest("b1", events(2, 3, 4))
    assert (again.stored, again.duplicates, again.acked_seq) == (1, 2, 4)
    assert store.event_seqs("b1") == [1, 2, 3, 4]
    assert store.ingest("b2", events(1)).acked_seq == 1  # seqs are per device


def test_the_ack_stops_at_a_gap_and_jumps_when_it_is_filled(store: CentralStore) -> None:
    store.ingest("b1", events(1, 2))
    beyond = store.ingest("b1", events(5, 6))
    assert beyond.acked_seq == 2 and beyond.resend
    filled = store.ingest("b1", events(3, 4))
    assert filled.acked_seq == 6 and not filled.resend
    big = store.ingest("b1", events(*range(7, 5008)))
    assert big.acked_seq == 5007


def test_a_reused_seq_with_another_id_is_a_conflict_not_an_overwrite(store: CentralStore) -> None:
    store.ingest("b1", events(1, 2))
    result = store.ingest("b1", events(2, prefix="other"))
    assert result.conflicts == 1 and result.stored == 0
    assert store.get_event("b1", 2)["id"] == "id2"  # type: ignore[index]


def test_declaration_changes_carry_a_per_gate_since(store: CentralStore) -> None:
    def decl(n: str, gate: str) -> Declaration:
        return Declaration(
            number=n, direction="export", gate=gate, plate="12C-345.67", nationality="VN"
        )

    c1, m1 = store.put_declaration(decl("2026112300001", "CKHN"))
    c2, _ = store.put_declaration(decl("2026112300002", "TT"))
    c3, m3 = store.put_declaration(decl("2026112300003", "CKHN"))
    assert (m1.since, m1.until) == (0, c1)
    assert (m3.since, m3.until) == (c1, c3)  # the TT change in between is not CKHN's business
    replies = store.changes_after("CKHN", 0, chunk=1)
    assert [[c.cursor for c in r.changes] for r in replies] == [[c1], [c3]]
    assert [r.since for r in replies] == [0, c1] and replies[0].more
    ahead = store.changes_after("CKHN", 999)
    assert ahead[0].reset and [c.cursor for c in ahead[0].changes] == [c1, c3]
    with pytest.raises(ValueError, match="cannot move"):
        store.put_declaration(decl("2026112300001", "TT"))
    assert c2 > c1


def test_a_conflicting_seq_holds_the_ack_keeps_both_events_and_resolves_by_a_person(
    store: CentralStore,
) -> None:
    store.ingest("b1", events(*range(1, 31)))
    forged = store.ingest("b1", events(31, 32, 33, prefix="forged"))
    assert forged.acked_seq == 33  # central cannot tell yet (the box refuses an ack of unsent)
    real = store.ingest("b1", events(*range(31, 41)))
    assert real.conflicts == 3 and real.stored == 7
    assert real.acked_seq == 30 and real.blocked_at == 31 and not real.resend
    again = store.ingest("b1", events(*range(31, 41)))  # the box resends: still held, no new rows
    assert again.acked_seq == 30 and again.conflicts == 3
    incidents = store.list_incidents(device="b1", kind="seq_conflict")
    assert [i["seq"] for i in incidents] == [33, 32, 31] and incidents[0]["times"] == 2
    assert incidents[0]["detail"]["stored"]["id"] == "forged33"
    assert incidents[0]["detail"]["incoming"]["id"] == "id33"
    assert store.open_incident_counts() == {"seq_conflict": 3}
    assert store.list_devices()[0]["incidents"]["seq_conflict"] == {"open": 3, "first_seq": 31}

    for incident in sorted(incidents, key=lambda i: i["seq"])[:2]:
        device, acked = store.resolve_conflict(incident["id"], "incoming", "ops.le", "box wins")
    assert (device, acked) == ("b1", 32)
    assert store.get_event("b1", 31)["id"] == "id31"  # type: ignore[index]
    device, acked = store.resolve_conflict(incidents[0]["id"], "stored", "ops.le", "keep")
    assert acked == 40 and store.get_event("b1", 33)["id"] == "forged33"  # type: ignore[index]
    resolved = store.list_incidents(device="b1", open_only=False)
    assert {i["resolved_by"] for i in resolved} == {"ops.le"}
    assert resolved[-1]["detail"]["stored"]["id"] == "forged31"  # the loser is kept
    with pytest.raises(ConflictError, match="resolved"):
        store.resolve_conflict(incidents[0]["id"], "incoming", "ops.le", "twice")


def test_a_conflict_below_the_ack_takes_the_ack_back_until_it_is_resolved(
    store: CentralStore,
) -> None:
    # Central cannot tell which of two events at one seq is the box's (first come is no proof:
    # a forger may publish before the box does), so it acknowledges neither.
    store.ingest("b1", events(1, 2, 3))
    second = store.ingest("b1", events(2, prefix="second"))
    assert second.acked_seq == 1 and second.blocked_at == 2 and second.conflicts == 1
    assert store.ingest("b1", events(4)).acked_seq == 1  # stored, not acknowledged
    assert store.event_seqs("b1") == [1, 2, 3, 4]
    incident = store.list_incidents(device="b1")[0]
    assert store.resolve_conflict(incident["id"], "stored", "ops.le", "the box's") == ("b1", 4)


def test_a_far_ahead_seq_is_refused_and_changes_nothing_for_good(tmp_path: Path) -> None:
    store = CentralStore(tmp_path / "c.db", max_seq_ahead=10_000)
    store.ingest("b1", events(1, 2))
    forged = store.ingest("b1", events(1_000_000_000, prefix="forged"))
    assert forged.far_ahead == 1 and forged.stored == 0 and not forged.resend
    near = store.ingest("b1", events(9_000, prefix="forged"))  # within the bound: stored...
    assert near.stored == 1 and near.resend
    following = store.ingest("b1", events(*range(3, 503)))  # ...but the box's batches in order
    assert following.acked_seq == 502 and not following.resend  # never ask it to resend
    assert store.list_devices()[0]["max_seq"] == 9_000


def test_an_invalid_event_with_a_seq_is_kept_aside_acked_and_made_an_incident(
    store: CentralStore,
) -> None:
    store.ingest("b1", events(1))
    bad = InvalidEvent(2, "id2", "Expected `float` >= -100000.0 - at `$.kg`", b"\x81\xa2kg\xcb")
    result = store.ingest("b1", events(3), [bad])
    assert result.acked_seq == 3 and result.quarantined == 1
    stored = store.get_event("b1", 2)
    assert stored is not None and stored["kind"] == "invalid" and "kg" in stored["reason"]
    assert store.open_incident_counts() == {"invalid_event": 1}


def test_a_stored_change_no_box_can_take_is_skipped_with_an_incident(store: CentralStore) -> None:
    good = Declaration(
        number="2026112300001",
        direction="export",
        gate="CKHN",
        plate="12C-345.67",
        nationality="VN",
    )
    c1, _ = store.put_declaration(good)
    # As an earlier release let it in: a declaration of 9 MB (a driver name no field allows).
    huge = msgspec.json.encode(msgspec.structs.replace(good, number="2026112300002"))
    huge = huge.replace(b'"driver_name":null', b'"driver_name":"' + b"x" * 9_000_000 + b'"')
    with store.file.transaction() as conn:
        conn.execute(
            "INSERT INTO declaration_changes(gate, number, op, at, body)"
            " VALUES ('CKHN', '2026112300002', 'upsert', '2026-11-23T08:00:00Z', ?)",
            (huge.decode(),),
        )
    c3, _ = store.put_declaration(msgspec.structs.replace(good, number="2026112300003"))
    replies = store.changes_after("CKHN", 0)
    assert [[c.cursor for c in r.changes] for r in replies] == [[c1, c3]]
    assert (replies[-1].since, replies[-1].until) == (0, c3)
    assert store.open_incident_counts() == {"change_undeliverable": 1}
    # Skipped, it cannot block a box that has the first change either.
    assert [c.cursor for c in store.changes_after("CKHN", c1)[0].changes] == [c3]
    assert all(len(encode(r)) < 1024 * 1024 for r in store.changes_after("CKHN", 0))


def test_changes_are_cut_into_messages_by_size_as_well_as_by_count(tmp_path: Path) -> None:
    store = CentralStore(tmp_path / "c.db", changes_max_bytes=2_000)
    for i in range(1, 21):
        store.put_declaration(
            Declaration(
                number=f"20261123{i:05d}",
                direction="export",
                gate="CKHN",
                plate="12C-345.67",
                nationality="VN",
                driver_name="Nguyễn Văn A" * 8,
            )
        )
    replies = store.changes_after("CKHN", 0)
    assert len(replies) > 2 and all(len(encode(r)) <= 2_000 for r in replies)
    assert sum(len(r.changes) for r in replies) == 20
    assert [r.more for r in replies] == [True] * (len(replies) - 1) + [False]
    assert all(b.since == a.until for a, b in itertools.pairwise(replies))


def test_a_database_written_by_release_0_1_0_opens_and_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "central.db"
    shutil.copy(FIXTURES / "central-0.1.0.db", path)
    store = CentralStore(path)
    assert store.file.version == len(MIGRATIONS)
    assert store.event_seqs("hn-b1-01") == [1, 2, 3, 4, 5]
    assert store.device_acked("hn-b1-01") == 5
    decl = store.get_declaration("2026112400001")
    assert decl is not None and decl.steps["border_guard"].user == "bg.tran"
    assert [c.cursor for c in store.changes_after("CKHN", 0)[0].changes] == [1, 2]
    more = store.ingest("hn-b1-01", events(6, 7))  # and it goes on working
    assert more.acked_seq == 7 and store.list_incidents() == []
    store.close()
    reopened = CentralStore(path)  # a second open migrates nothing and loses nothing
    assert reopened.event_seqs("hn-b1-01") == [1, 2, 3, 4, 5, 6, 7]


def test_a_database_from_a_newer_release_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "central.db"
    CentralStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(SchemaError, match="newer than this release"):
        CentralStore(path)
