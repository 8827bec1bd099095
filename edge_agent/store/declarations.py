"""The box's cache of its gate's declarations, keyed by plate, with central's change cursor.

Changes are applied in cursor order and idempotently: a change at or below the stored cursor
is skipped, and a message that starts beyond the stored cursor (``since`` > cursor) is refused
as a gap, so the box asks central again instead of silently missing a change.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.codec import decode, encode
from protocol.messages import Declaration, DeclarationChanges
from protocol.plates import plate_key
from protocol.sqlite_file import SqliteFile

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS declarations (
        number TEXT PRIMARY KEY,
        gate TEXT NOT NULL,
        plate_key TEXT NOT NULL,
        status TEXT NOT NULL,
        cursor INTEGER NOT NULL,
        body BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS declarations_plate ON declarations(plate_key)",
    """CREATE TABLE IF NOT EXISTS declaration_sync (
        gate TEXT PRIMARY KEY,
        cursor INTEGER NOT NULL
    )""",
)


@dataclass(frozen=True)
class ApplyResult:
    applied: int
    skipped: int
    gap: bool
    cursor: int


class DeclarationCache:
    def __init__(self, file: SqliteFile) -> None:
        self.file = file
        with file.transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    def cursor(self, gate: str) -> int:
        with self.file.lock:
            row = self.file.conn.execute(
                "SELECT cursor FROM declaration_sync WHERE gate = ?", (gate,)
            ).fetchone()
        return int(row[0]) if row else 0

    def apply(self, message: DeclarationChanges) -> ApplyResult:
        """Apply a batch of changes atomically; see the module docstring for the rules."""
        with self.file.transaction() as conn:
            row = conn.execute(
                "SELECT cursor FROM declaration_sync WHERE gate = ?", (message.gate,)
            ).fetchone()
            current = int(row[0]) if row else 0
            if message.reset:
                conn.execute("DELETE FROM declarations WHERE gate = ?", (message.gate,))
                current = 0
            if message.since > current:
                return ApplyResult(0, len(message.changes), True, current)
            applied = skipped = 0
            for change in sorted(message.changes, key=lambda c: c.cursor):
                if change.cursor <= current:
                    skipped += 1
                    continue
                decl = change.declaration
                if change.op == "delete":
                    conn.execute("DELETE FROM declarations WHERE number = ?", (decl.number,))
                else:
                    conn.execute(
                        "INSERT INTO declarations(number, gate, plate_key, status, cursor, body)"
                        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(number) DO UPDATE SET"
                        " gate = excluded.gate, plate_key = excluded.plate_key,"
                        " status = excluded.status, cursor = excluded.cursor, body = excluded.body",
                        (
                            decl.number,
                            message.gate,
                            plate_key(decl.plate),
                            decl.status,
                            change.cursor,
                            encode(decl),
                        ),
                    )
                current = change.cursor
                applied += 1
            current = max(current, message.until)
            conn.execute(
                "INSERT INTO declaration_sync(gate, cursor) VALUES (?, ?)"
                " ON CONFLICT(gate) DO UPDATE SET cursor = excluded.cursor",
                (message.gate, current),
            )
            return ApplyResult(applied, skipped, False, current)

    def reset(self, gate: str) -> None:
        """Forget the cache of ``gate`` so the next sync rebuilds it from cursor 0."""
        with self.file.transaction() as conn:
            conn.execute("DELETE FROM declaration_sync WHERE gate = ?", (gate,))
            conn.execute("DELETE FROM declarations WHERE gate = ?", (gate,))

    def for_plate(self, plate: str) -> list[Declaration]:
        """Declarations for ``plate`` (any accepted spelling), newest change first."""
        key = plate_key(plate)
        with self.file.lock:
            rows = self.file.conn.execute(
                "SELECT body FROM declarations WHERE plate_key = ? ORDER BY cursor DESC", (key,)
            ).fetchall()
        return [decode(bytes(r[0]), Declaration) for r in rows]

    def get(self, number: str) -> Declaration | None:
        with self.file.lock:
            row = self.file.conn.execute(
                "SELECT body FROM declarations WHERE number = ?", (number,)
            ).fetchone()
        return decode(bytes(row[0]), Declaration) if row else None

    def count(self) -> int:
        with self.file.lock:
            return int(self.file.conn.execute("SELECT count(*) FROM declarations").fetchone()[0])
