"""Central's store: idempotent ingest on (device, seq) and the highest contiguous seq."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from central.store import CentralStore
from protocol.messages import Declaration, Event, Presence

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
    assert beyond.acked_seq == 2 and beyond.beyond_gap
    filled = store.ingest("b1", events(3, 4))
    assert filled.acked_seq == 6 and not filled.beyond_gap
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
