"""The gate box's store: an outbox of events, and the declarations cache.

Every event is committed in the same transaction as the local state change that caused it
(``EdgeStore.transaction()`` then ``tx.emit(...)``), and gets its per-device ``seq`` there: the
counter lives in the same file and moves forward in the same commit, so a seq is never reused,
also across crashes and restarts. Nothing is deleted until central has acknowledged it, and
acknowledged events are kept for ``retention_days`` as the local audit trail.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from edge_agent.store.declarations import DeclarationCache
from edge_agent.store.lanes import LaneStore
from edge_agent.store.schema import KIND, MIGRATIONS
from protocol.codec import decode_event, encode_event
from protocol.messages import Event, event_kind
from protocol.signing import event_hash
from protocol.sqlite_file import SqliteFile, Synchronous


class Transaction:
    """A write transaction on the box store: state changes plus the events they cause."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.emitted: list[Event] = []

    def emit(self, event: Event) -> Event:
        """Queue ``event`` in the outbox; returns it with its ``seq`` (and ``id``) filled in,
        and ``prev``: the hash of the event before it (the box's hash chain)."""
        row = self.conn.execute(
            "UPDATE meta SET value = value + 1 WHERE key = 'last_seq' RETURNING value"
        ).fetchone()
        seq = int(row[0])
        head = self.conn.execute("SELECT hash FROM chain WHERE id = 1").fetchone()
        stamped = msgspec.structs.replace(
            event,
            seq=seq,
            id=event.id or str(uuid.uuid4()),
            prev=bytes(head[0]) if head else b"",
        )
        body = encode_event(stamped)
        self.conn.execute(
            "INSERT INTO outbox(seq, id, kind, at, body) VALUES (?, ?, ?, ?, ?)",
            (seq, stamped.id, event_kind(stamped), stamped.at.astimezone(UTC).isoformat(), body),
        )
        self.conn.execute(
            "INSERT INTO chain(id, seq, hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE"
            " SET seq = excluded.seq, hash = excluded.hash",
            (seq, event_hash(body)),
        )
        self.emitted.append(stamped)
        return stamped


class EdgeStore:
    """SQLite (WAL) store of one gate box: the outbox here, the declarations cache in
    ``declarations``, the lanes' rows in ``lanes``; one file, one schema version.

    ``create=False`` opens only an existing file (FileNotFoundError otherwise): for tools that
    look at a box's store, which must never make an empty one where a path is wrong.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Synchronous = "FULL",
        retention_days: float = 30.0,
        create: bool = True,
    ) -> None:
        self.file = SqliteFile(path, synchronous, migrations=MIGRATIONS, create=create, kind=KIND)
        self.retention = timedelta(days=retention_days)
        self._listeners: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()
        with self.file.transaction() as conn:
            # Defensive: the counter may never trail the outbox (e.g. a hand-edited file).
            conn.execute(
                "UPDATE meta SET value = max(value, (SELECT coalesce(max(seq), 0) FROM outbox))"
                " WHERE key = 'last_seq'"
            )
        self.declarations = DeclarationCache(self.file)
        self.lanes = LaneStore(self.file)

    @property
    def path(self) -> Path:
        return self.file.path

    def close(self) -> None:
        self.file.close()

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One atomic unit: ``tx.execute`` for local state, ``tx.emit`` for the events."""
        with self.file.transaction() as conn:
            tx = Transaction(conn)
            yield tx
        if tx.emitted:
            self._notify()

    def emit(self, event: Event) -> Event:
        with self.transaction() as tx:
            return tx.emit(event)

    def emit_many(self, events: Sequence[Event]) -> list[Event]:
        with self.transaction() as tx:
            return [tx.emit(e) for e in events]

    def on_emit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (cheaply, from the emitting thread) after events are committed."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def _notify(self) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    # -- reading and acknowledging -----------------------------------------------------------

    def _meta(self, key: str) -> int:
        return int(self.file.one("SELECT value FROM meta WHERE key = ?", (key,))[0])

    def last_seq(self) -> int:
        return self._meta("last_seq")

    def acked_seq(self) -> int:
        return self._meta("acked_seq")

    def pending_count(self) -> int:
        return max(0, self.last_seq() - self.acked_seq())

    def oldest_pending_at(self) -> datetime | None:
        """When the oldest event central has not acknowledged was recorded (None: none)."""
        row = self.file.one(
            "SELECT at FROM outbox WHERE seq > ? ORDER BY seq LIMIT 1", (self.acked_seq(),)
        )
        if row is None:
            return None
        try:
            return datetime.fromisoformat(row[0])
        except ValueError:
            return None

    def read_encoded(
        self, after_seq: int, limit: int, max_bytes: int = 1 << 20
    ) -> list[tuple[int, bytes]]:
        """Encoded events with seq > ``after_seq``, ascending, at most ``limit`` / ``max_bytes``."""
        rows = self.file.all(
            "SELECT seq, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
        )
        out: list[tuple[int, bytes]] = []
        size = 0
        for seq, body in rows:
            if out and size + len(body) > max_bytes:
                break
            out.append((int(seq), bytes(body)))
            size += len(body)
        return out

    def read(self, after_seq: int = 0, limit: int = 1000) -> list[Event]:
        return [decode_event(body) for _, body in self.read_encoded(after_seq, limit, 1 << 62)]

    def mark_acked(self, upto: int) -> int:
        """Record that central holds every seq <= ``upto``. Returns the acked seq now stored.

        An ack beyond what this box ever emitted is refused (ValueError): it would mean a
        central confused about which box it talks to, and acting on it could lose events.
        """
        with self.file.transaction() as conn:
            last = int(conn.execute("SELECT value FROM meta WHERE key='last_seq'").fetchone()[0])
            if upto > last:
                raise ValueError(f"ack for seq {upto} beyond the last emitted seq {last}")
            conn.execute("UPDATE meta SET value = max(value, ?) WHERE key = 'acked_seq'", (upto,))
            return int(conn.execute("SELECT value FROM meta WHERE key='acked_seq'").fetchone()[0])

    def prune(self, now: datetime | None = None) -> int:
        """Delete acknowledged events older than the retention period. Never an unacked one."""
        cutoff = (now or datetime.now(UTC)) - self.retention
        with self.file.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM outbox WHERE seq <= (SELECT value FROM meta WHERE key='acked_seq')"
                " AND at < ?",
                (cutoff.isoformat(),),
            )
            return cur.rowcount
