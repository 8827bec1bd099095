"""The box's cache of its gate's declarations, keyed by plate, with central's change cursor.

Changes are applied in cursor order and idempotently: a change at or below the stored cursor
is skipped, and a message that starts beyond the stored cursor (``since`` > cursor) is refused
as a gap, so the box asks central again instead of silently missing a change. A change the
box cannot take (a plate that is no plate) is passed over and counted: one bad change never
stops the ones after it.

A rebuild (a ``resync`` command, or central's ``reset``) never empties the live cache: central's
answer fills a staging table beside it, chunk by chunk, and replaces the live rows in one
transaction only when the answer is complete. Until then the lanes decide from the old cache;
a rebuild cut short (the link drops) carries on from where it stopped.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from protocol.codec import decode, encode
from protocol.messages import Declaration, DeclarationChanges
from protocol.plates import plate_key
from protocol.sqlite_file import SqliteFile


@dataclass(frozen=True)
class ApplyResult:
    applied: int
    skipped: int
    #: changes passed over because the box cannot take them (counted, logged by the caller)
    rejected: list[str]
    #: the message does not follow on from what the box holds: ask central again
    gap: bool
    cursor: int
    #: a rebuild completed with this message: the live cache was replaced
    rebuilt: bool = False


class DeclarationCache:
    def __init__(self, file: SqliteFile) -> None:
        self.file = file

    def cursor(self, gate: str) -> int:
        row = self.file.one("SELECT cursor FROM declaration_sync WHERE gate = ?", (gate,))
        return int(row[0]) if row else 0

    def rebuilding(self, gate: str) -> int | None:
        """The staging cursor while a rebuild of ``gate`` is under way, else None."""
        row = self.file.one("SELECT cursor FROM declaration_rebuild WHERE gate = ?", (gate,))
        return int(row[0]) if row else None

    def sync_cursor(self, gate: str) -> int:
        """What to ask central for: the rebuild's cursor while one is under way."""
        staged = self.rebuilding(gate)
        return self.cursor(gate) if staged is None else staged

    def begin_rebuild(self, gate: str) -> None:
        """Start (or restart) rebuilding ``gate`` from cursor 0; the live cache stays."""
        with self.file.transaction() as conn:
            self._begin_rebuild(conn, gate)

    @staticmethod
    def _begin_rebuild(conn: sqlite3.Connection, gate: str) -> None:
        conn.execute("DELETE FROM declarations_staging WHERE gate = ?", (gate,))
        row = conn.execute("SELECT cursor FROM declaration_sync WHERE gate = ?", (gate,)).fetchone()
        conn.execute(
            "INSERT INTO declaration_rebuild(gate, cursor, live_at_start, started_at)"
            " VALUES (?, 0, ?, ?) ON CONFLICT(gate) DO UPDATE SET cursor = 0,"
            " live_at_start = excluded.live_at_start, started_at = excluded.started_at",
            (gate, int(row[0]) if row else 0, datetime.now(UTC).isoformat()),
        )

    def apply(self, message: DeclarationChanges) -> ApplyResult:
        """Apply a batch of changes atomically; see the module docstring for the rules."""
        gate = message.gate
        with self.file.transaction() as conn:
            row = conn.execute(
                "SELECT cursor FROM declaration_sync WHERE gate = ?", (gate,)
            ).fetchone()
            live = int(row[0]) if row else 0
            row = conn.execute(
                "SELECT cursor FROM declaration_rebuild WHERE gate = ?", (gate,)
            ).fetchone()
            staged: int | None = int(row[0]) if row else None
            if message.reset and (staged is None or message.since == 0):
                self._begin_rebuild(conn, gate)
                staged = 0
            rejected: list[str] = []
            applied = skipped = 0
            gap = False
            if staged is not None:
                if message.since <= staged:
                    staged, applied, skipped = self._apply_changes(
                        conn, "declarations_staging", message, staged, rejected
                    )
                    if not message.more:
                        return self._swap(conn, gate, staged, live, applied, rejected)
                    conn.execute(
                        "UPDATE declaration_rebuild SET cursor = ? WHERE gate = ?", (staged, gate)
                    )
                else:
                    gap = True
                # Meanwhile the live cache keeps up with what follows on from it.
                if not message.reset and message.since <= live:
                    live, _, _ = self._apply_changes(conn, "declarations", message, live, rejected)
                    self._set_cursor(conn, gate, live)
                return ApplyResult(applied, skipped, rejected, gap, staged)
            if message.since > live:
                return ApplyResult(0, len(message.changes), [], True, live)
            live, applied, skipped = self._apply_changes(
                conn, "declarations", message, live, rejected
            )
            self._set_cursor(conn, gate, live)
            return ApplyResult(applied, skipped, rejected, False, live)

    @staticmethod
    def _set_cursor(conn: sqlite3.Connection, gate: str, cursor: int) -> None:
        conn.execute(
            "INSERT INTO declaration_sync(gate, cursor) VALUES (?, ?)"
            " ON CONFLICT(gate) DO UPDATE SET cursor = excluded.cursor",
            (gate, cursor),
        )

    @staticmethod
    def _apply_changes(
        conn: sqlite3.Connection,
        table: str,
        message: DeclarationChanges,
        current: int,
        rejected: list[str],
    ) -> tuple[int, int, int]:
        """Apply the changes after ``current`` to ``table``; (new cursor, applied, skipped)."""
        applied = skipped = 0
        for change in sorted(message.changes, key=lambda c: c.cursor):
            if change.cursor <= current:
                skipped += 1
                continue
            decl = change.declaration
            current = change.cursor
            if change.op == "delete":
                conn.execute(f"DELETE FROM {table} WHERE number = ?", (decl.number,))
                applied += 1
                continue
            try:
                key = plate_key(decl.plate)
            except ValueError as exc:
                rejected.append(f"change {change.cursor} ({decl.number}): {exc}")
                continue
            conn.execute(
                f"INSERT INTO {table}(number, gate, plate_key, status, cursor, body)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(number) DO UPDATE SET"
                " gate = excluded.gate, plate_key = excluded.plate_key,"
                " status = excluded.status, cursor = excluded.cursor, body = excluded.body",
                (decl.number, message.gate, key, decl.status, change.cursor, encode(decl)),
            )
            applied += 1
        return max(current, message.until), applied, skipped

    def _swap(
        self,
        conn: sqlite3.Connection,
        gate: str,
        staged: int,
        live: int,
        applied: int,
        rejected: list[str],
    ) -> ApplyResult:
        conn.execute("DELETE FROM declarations WHERE gate = ?", (gate,))
        conn.execute(
            "INSERT INTO declarations(number, gate, plate_key, status, cursor, body)"
            " SELECT number, gate, plate_key, status, cursor, body FROM declarations_staging"
            " WHERE gate = ?",
            (gate,),
        )
        start = conn.execute(
            "SELECT live_at_start FROM declaration_rebuild WHERE gate = ?", (gate,)
        ).fetchone()[0]
        conn.execute("DELETE FROM declarations_staging WHERE gate = ?", (gate,))
        conn.execute("DELETE FROM declaration_rebuild WHERE gate = ?", (gate,))
        self._set_cursor(conn, gate, staged)
        # The live cache took changes during the rebuild that central's answer may not hold:
        # ask for what follows the new cursor.
        moved = live > start and live > staged
        return ApplyResult(applied, 0, rejected, moved, staged, rebuilt=True)

    def for_plate(self, plate: str) -> list[Declaration]:
        """Declarations for ``plate`` (any accepted spelling), newest change first."""
        rows = self.file.all(
            "SELECT body FROM declarations WHERE plate_key = ? ORDER BY cursor DESC",
            (plate_key(plate),),
        )
        return [decode(bytes(r[0]), Declaration) for r in rows]

    def get(self, number: str) -> Declaration | None:
        row = self.file.one("SELECT body FROM declarations WHERE number = ?", (number,))
        return decode(bytes(row[0]), Declaration) if row else None

    def count(self) -> int:
        return int(self.file.one("SELECT count(*) FROM declarations")[0])
