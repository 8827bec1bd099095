"""The gate box's SQLite store: outbox seqs, atomic state+event, retention, declarations."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import msgspec
import pytest

from edge_agent.store import EdgeStore
from edge_agent.store.schema import MIGRATIONS
from protocol.messages import (
    Declaration,
    DeclarationChange,
    DeclarationChanges,
    Presence,
    WeightMeasured,
)

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures"
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
    with store.transaction() as tx:
        store.lanes.set_state("barrier-in", "vehicle_present", None, NOW, "")
        tx.emit(Presence(at=NOW, present=True, checkpoint="barrier-in"))
    with pytest.raises(RuntimeError), store.transaction() as tx:
        store.lanes.set_state("barrier-in", "opening", None, NOW, "")
        tx.emit(Presence(at=NOW, present=False, checkpoint="barrier-in"))
        raise RuntimeError("crash between state change and commit")
    row = store.lanes.state("barrier-in")
    assert row is not None and row.state == "vehicle_present"
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


def test_a_change_the_box_cannot_take_is_passed_over_and_never_blocks_the_next(
    store: EdgeStore,
) -> None:
    cache = store.declarations
    # A plate that is no plate (central's API refuses it today; an older central did not).
    bad = msgspec.structs.replace(_decl("2026112300001", "12C-345.67"), plate="----")
    result = cache.apply(_changes(0, (1, bad), (2, _decl("2026112300002", "29H-888.12"))))
    assert result.cursor == 2 and result.applied == 1 and not result.gap
    assert len(result.rejected) == 1 and "2026112300001" in result.rejected[0]
    assert [d.number for d in cache.for_plate("29H-888.12")] == ["2026112300002"]


def test_a_rebuild_fills_beside_the_live_cache_and_swaps_only_when_complete(
    store: EdgeStore,
) -> None:
    cache = store.declarations
    old = [_decl(f"20261123{i:05d}", f"29H-{100 + i}.11") for i in range(5)]
    cache.apply(_changes(0, *((i + 1, d) for i, d in enumerate(old))))
    planted = _decl("2026112399999", "99A-999.99")
    cache.apply(_changes(5, (6, planted)))  # a row central does not hold
    cache.begin_rebuild("CKHN")
    assert cache.sync_cursor("CKHN") == 0 and cache.cursor("CKHN") == 6
    first = cache.apply(msgspec.structs.replace(_changes(0, (1, old[0]), (2, old[1])), more=True))
    assert not first.rebuilt and cache.rebuilding("CKHN") == 2
    # Half-way (the link may drop here, the box may restart): the lanes see the old cache.
    store.close()
    reopened = EdgeStore(store.path)
    cache = reopened.declarations
    assert cache.count() == 6 and cache.for_plate("29H-104.11") != []
    assert cache.sync_cursor("CKHN") == 2  # carries on from where it stopped
    gap = cache.apply(_changes(4, (5, old[4])))
    assert gap.gap and cache.rebuilding("CKHN") == 2
    last = cache.apply(_changes(2, (3, old[2]), (4, old[3]), (5, old[4])))
    assert last.rebuilt and not last.gap and last.cursor == 5
    assert cache.count() == 5 and cache.for_plate("99A-999.99") == []
    assert cache.rebuilding("CKHN") is None and cache.cursor("CKHN") == 5
    reopened.close()


def test_a_box_database_written_by_release_0_1_0_opens_and_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "box.db"
    shutil.copy(FIXTURES / "box-0.1.0.db", path)
    store = EdgeStore(path)
    assert store.file.version == len(MIGRATIONS)
    assert (store.last_seq(), store.acked_seq(), store.pending_count()) == (5, 3, 2)
    assert [e.seq for e in store.read(3)] == [4, 5]
    assert store.declarations.cursor("CKHN") == 2
    assert [d.status for d in store.declarations.for_plate("A4K9X1")] == ["accepted"]
    held = store.lanes.state("barrier-in")
    assert held is not None and held.state == "held" and held.plate == "12C-345.67"
    fault = store.lanes.state("yard-in")
    assert fault is not None and fault.state == "fault"
    assert store.lanes.yard_count("Y1") == 1
    assert store.lanes.command_outcome(1) == "opening"
    assert store.emit(Presence(at=NOW, present=True)).seq == 6  # seq goes on, never reused
    store.close()


def test_agent_tools_never_create_a_store_where_a_path_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such database"):
        EdgeStore(tmp_path / "missing" / "box.db", create=False)
    assert not (tmp_path / "missing").exists()


def test_a_command_from_central_acts_once_however_often_it_arrives(store: EdgeStore) -> None:
    assert store.lanes.take_command("cmd-1") is True
    assert store.lanes.take_command("cmd-1") is False  # redelivered or replayed
    assert store.lanes.take_command("cmd-2") is True


def test_a_full_disk_refuses_writes_and_the_store_writes_again_when_there_is_room(
    tmp_path: Path,
) -> None:
    store = EdgeStore(tmp_path / "box.db")
    pages = store.file.conn.execute("PRAGMA page_count").fetchone()[0]
    store.file.conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk is nearly full
    events = 0
    with pytest.raises(sqlite3.OperationalError, match="full"):
        for _ in range(10_000):
            store.emit(Presence(at=datetime.now(UTC), checkpoint="barrier-in", present=True))
            events += 1
    assert store.last_seq() == events  # the refused one left nothing half written
    store.file.conn.execute("PRAGMA max_page_count = 1073741823")  # room again
    store.emit(Presence(at=datetime.now(UTC), checkpoint="barrier-in", present=False))
    assert store.last_seq() == events + 1
    store.close()
