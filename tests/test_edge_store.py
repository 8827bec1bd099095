"""The gate box's SQLite store: outbox seqs, atomic state+event, retention, declarations."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest

from edge_agent.store import EdgeStore
from protocol.messages import (
    Declaration,
    DeclarationChange,
    DeclarationChanges,
    Presence,
    WeightMeasured,
)

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
#: ``Declaration.status``
Status = Literal["declared", "accepted", "returned", "cancelled", "exited"]


@pytest.fixture
def store(tmp_path: Path) -> EdgeStore:
    return EdgeStore(tmp_path / "box.db")


def test_the_store_file_is_in_wal_mode(store: EdgeStore) -> None:
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_seqs_are_consecutive_and_continue_after_reopening(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "box.db")
    first = store.emit_many([Presence(at=NOW, present=True) for _ in range(3)])
    assert [e.seq for e in first] == [1, 2, 3]
    assert len({e.id for e in first}) == 3
    store.close()
    again = EdgeStore(tmp_path / "box.db")
    assert again.emit(Presence(at=NOW, present=False)).seq == 4


def test_state_change_and_its_event_commit_together_or_not_at_all(store: EdgeStore) -> None:
    store.file.conn.execute("CREATE TABLE lane(checkpoint TEXT PRIMARY KEY, state TEXT)")
    with store.transaction() as tx:
        tx.execute("INSERT INTO lane VALUES ('barrier-in', 'vehicle_present')")
        tx.emit(Presence(at=NOW, present=True, checkpoint="barrier-in"))
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.execute("UPDATE lane SET state = 'opening'")
        tx.emit(Presence(at=NOW, present=False, checkpoint="barrier-in"))
        raise RuntimeError("crash between state change and commit")
    state = store.file.conn.execute("SELECT state FROM lane").fetchone()[0]
    assert state == "vehicle_present"
    assert [e.seq for e in store.read()] == [1]
    # The rolled-back event did not consume a seq: the next one is 2, with no gap.
    assert store.emit(Presence(at=NOW, present=False)).seq == 2


def test_acks_move_forward_only_and_never_beyond_what_was_emitted(store: EdgeStore) -> None:
    store.emit_many([Presence(at=NOW, present=True) for _ in range(5)])
    assert store.mark_acked(3) == 3
    assert store.mark_acked(2) == 3  # a late, older ack changes nothing
    assert store.pending_count() == 2
    with pytest.raises(ValueError, match="beyond"):
        store.mark_acked(6)


def test_retention_deletes_old_acknowledged_events_and_never_unacknowledged_ones(
    store: EdgeStore,
) -> None:
    old = NOW - timedelta(days=60)
    store.emit_many([WeightMeasured(at=old, kg=i, stable=True) for i in range(10)])
    store.emit(WeightMeasured(at=NOW, kg=99, stable=True))
    store.mark_acked(4)
    assert store.prune(now=NOW) == 4
    assert [e.seq for e in store.read()] == [5, 6, 7, 8, 9, 10, 11]
    store.mark_acked(11)
    assert store.prune(now=NOW) == 6  # the recent acknowledged one stays for the audit trail
    assert [e.seq for e in store.read()] == [11]
    assert store.emit(Presence(at=NOW, present=True)).seq == 12


def test_reading_the_outbox_respects_order_count_and_size(store: EdgeStore) -> None:
    store.emit_many([WeightMeasured(at=NOW, kg=i, stable=True) for i in range(50)])
    rows = store.read_encoded(after_seq=10, limit=20)
    assert [s for s, _ in rows] == list(range(11, 31))
    one_size = len(rows[0][1])
    assert len(store.read_encoded(after_seq=0, limit=50, max_bytes=one_size * 3)) == 3


def _decl(number: str, plate: str, status: Status = "accepted") -> Declaration:
    return Declaration(
        number=number,
        direction="import",
        gate="CKHN",
        plate=plate,
        nationality="CN" if plate.startswith("桂") else "VN",
        status=status,
    )


def _changes(
    since: int, *items: tuple[int, Declaration], reset: bool = False
) -> DeclarationChanges:
    changes = [DeclarationChange(cursor=c, op="upsert", declaration=d) for c, d in items]
    until = max([since, *(c for c, _ in items)])
    return DeclarationChanges(gate="CKHN", since=since, until=until, changes=changes, reset=reset)


def test_declaration_changes_apply_in_order_and_idempotently(store: EdgeStore) -> None:
    cache = store.declarations
    message = _changes(
        0,
        (3, _decl("2026112300001", "桂A4K9X1", "declared")),
        (7, _decl("2026112300001", "A4K9X1", "accepted")),
    )
    result = cache.apply(message)
    assert (result.applied, result.gap, result.cursor) == (2, False, 7)
    assert [d.status for d in cache.for_plate("桂A4K9X1")] == ["accepted"]
    again = cache.apply(message)
    assert (again.applied, again.skipped) == (0, 2)
    assert cache.cursor("CKHN") == 7


def test_a_change_beyond_the_cursor_is_a_gap_and_is_not_applied(store: EdgeStore) -> None:
    cache = store.declarations
    cache.apply(_changes(0, (2, _decl("2026112300001", "12C-345.67"))))
    result = cache.apply(_changes(5, (9, _decl("2026112300002", "29H-888.12"))))
    assert result.gap and result.applied == 0
    assert cache.for_plate("29H88812") == []
    assert cache.cursor("CKHN") == 2


def test_a_reset_from_central_replaces_the_gate_cache(store: EdgeStore) -> None:
    cache = store.declarations
    cache.apply(_changes(0, (40, _decl("2026112300001", "12C-345.67"))))
    result = cache.apply(_changes(0, (1, _decl("2026112300009", "29H-888.12")), reset=True))
    assert not result.gap and result.cursor == 1
    assert cache.for_plate("12C-345.67") == []
    assert cache.get("2026112300009") is not None
