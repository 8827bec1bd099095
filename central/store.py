"""Central's SQLite store: events (idempotent on device+seq), devices, declarations, changes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from protocol.codec import to_json
from protocol.messages import (
    Declaration,
    DeclarationChange,
    DeclarationChanges,
    DeviceState,
    Event,
    event_kind,
)
from protocol.plates import plate_key
from protocol.sqlite_file import SqliteFile, Synchronous

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
        device TEXT NOT NULL,
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        kind TEXT NOT NULL,
        at TEXT NOT NULL,
        checkpoint TEXT NOT NULL,
        plate_key TEXT,
        received_at TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (device, seq)
    )""",
    "CREATE INDEX IF NOT EXISTS events_kind ON events(kind, at)",
    "CREATE INDEX IF NOT EXISTS events_plate ON events(plate_key)",
    """CREATE TABLE IF NOT EXISTS devices (
        device TEXT PRIMARY KEY,
        gate TEXT,
        acked_seq INTEGER NOT NULL DEFAULT 0,
        max_seq INTEGER NOT NULL DEFAULT 0,
        events INTEGER NOT NULL DEFAULT 0,
        duplicates INTEGER NOT NULL DEFAULT 0,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        status TEXT,
        state TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS declarations (
        number TEXT PRIMARY KEY,
        gate TEXT NOT NULL,
        plate_key TEXT NOT NULL,
        status TEXT NOT NULL,
        cursor INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        body TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS declarations_plate ON declarations(plate_key)",
    """CREATE TABLE IF NOT EXISTS declaration_changes (
        cursor INTEGER PRIMARY KEY AUTOINCREMENT,
        gate TEXT NOT NULL,
        number TEXT NOT NULL,
        op TEXT NOT NULL,
        at TEXT NOT NULL,
        body TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS declaration_changes_gate ON declaration_changes(gate, cursor)",
)


@dataclass(frozen=True)
class IngestResult:
    stored: int
    duplicates: int
    conflicts: int
    acked_seq: int
    beyond_gap: bool


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _event_plate_key(event: Event) -> str | None:
    plate = getattr(event, "plate", None)
    if not plate:
        return None
    try:
        return plate_key(plate)
    except ValueError:
        return None


class CentralStore:
    def __init__(self, path: str | Path, synchronous: Synchronous = "FULL") -> None:
        self.file = SqliteFile(path, synchronous)
        with self.file.transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    def close(self) -> None:
        self.file.close()

    # -- ingest ----------------------------------------------------------------------------

    def ingest(self, device: str, events: list[Event]) -> IngestResult:
        """Store a batch idempotently and advance the device's highest contiguous seq."""
        now = _now()
        rows = [
            (
                device,
                e.seq,
                e.id,
                event_kind(e),
                e.at.astimezone(UTC).isoformat(),
                e.checkpoint,
                _event_plate_key(e),
                now,
                to_json(e).decode(),
            )
            for e in events
        ]
        with self.file.transaction() as conn:
            conn.execute(
                "INSERT INTO devices(device, first_seen, last_seen) VALUES (?, ?, ?)"
                " ON CONFLICT(device) DO UPDATE SET last_seen = excluded.last_seen",
                (device, now, now),
            )
            acked, max_seq = conn.execute(
                "SELECT acked_seq, max_seq FROM devices WHERE device = ?", (device,)
            ).fetchone()
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO events(device, seq, id, kind, at, checkpoint, plate_key,"
                " received_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            stored = conn.total_changes - before
            duplicates = len(rows) - stored
            conflicts = 0
            if duplicates:
                ids = {e.seq: e.id for e in events}
                for chunk_start in range(0, len(rows), 500):
                    seqs = [r[1] for r in rows[chunk_start : chunk_start + 500]]
                    marks = ",".join("?" * len(seqs))
                    for seq, stored_id in conn.execute(
                        f"SELECT seq, id FROM events WHERE device = ? AND seq IN ({marks})",
                        (device, *seqs),
                    ):
                        if ids[seq] != stored_id:
                            conflicts += 1
                duplicates -= conflicts
            top = max([max_seq, *(e.seq for e in events)])
            contiguous = int(acked)
            if top > contiguous:
                contiguous = self._walk_contiguous(conn, device, contiguous)
            conn.execute(
                "UPDATE devices SET acked_seq = ?, max_seq = ?, events = events + ?,"
                " duplicates = duplicates + ? WHERE device = ?",
                (contiguous, top, stored, duplicates, device),
            )
        return IngestResult(stored, duplicates, conflicts, contiguous, top > contiguous)

    @staticmethod
    def _walk_contiguous(conn: Any, device: str, contiguous: int) -> int:
        while True:
            seqs = [
                r[0]
                for r in conn.execute(
                    "SELECT seq FROM events WHERE device = ? AND seq > ? ORDER BY seq LIMIT 2000",
                    (device, contiguous),
                )
            ]
            for seq in seqs:
                if seq != contiguous + 1:
                    return contiguous
                contiguous = seq
            if len(seqs) < 2000:
                return contiguous

    def device_acked(self, device: str) -> int:
        with self.file.lock:
            row = self.file.conn.execute(
                "SELECT acked_seq FROM devices WHERE device = ?", (device,)
            ).fetchone()
        return int(row[0]) if row else 0

    def record_state(self, state: DeviceState) -> None:
        now = _now()
        with self.file.transaction() as conn:
            conn.execute(
                "INSERT INTO devices(device, gate, first_seen, last_seen, status, state)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(device) DO UPDATE SET"
                " gate = excluded.gate, last_seen = excluded.last_seen,"
                " status = excluded.status, state = excluded.state",
                (state.device, state.gate, now, now, state.status, to_json(state).decode()),
            )

    def note_gate(self, device: str, gate: str) -> None:
        now = _now()
        with self.file.transaction() as conn:
            conn.execute(
                "INSERT INTO devices(device, gate, first_seen, last_seen) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(device) DO UPDATE SET gate = excluded.gate,"
                " last_seen = excluded.last_seen",
                (device, gate, now, now),
            )

    # -- declarations ------------------------------------------------------------------------

    def put_declaration(
        self, declaration: Declaration, *, must_exist: bool | None = None
    ) -> tuple[int, DeclarationChanges]:
        """Create or replace a declaration; returns (cursor, the change message to publish).

        ``must_exist``: True refuses to create (KeyError), False refuses to replace
        (FileExistsError), None does either.
        """
        key = plate_key(declaration.plate)
        now = _now()
        body = to_json(declaration).decode()
        with self.file.transaction() as conn:
            existing = conn.execute(
                "SELECT gate FROM declarations WHERE number = ?", (declaration.number,)
            ).fetchone()
            if must_exist is True and existing is None:
                raise KeyError(declaration.number)
            if must_exist is False and existing is not None:
                raise FileExistsError(declaration.number)
            if existing is not None and existing[0] != declaration.gate:
                raise ValueError(
                    f"declaration {declaration.number} belongs to gate {existing[0]}; "
                    "a declaration cannot move between gates"
                )
            since = self._gate_cursor(conn, declaration.gate)
            cursor = conn.execute(
                "INSERT INTO declaration_changes(gate, number, op, at, body)"
                " VALUES (?, ?, 'upsert', ?, ?) RETURNING cursor",
                (declaration.gate, declaration.number, now, body),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO declarations(number, gate, plate_key, status, cursor, created_at,"
                " updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(number) DO UPDATE"
                " SET plate_key = excluded.plate_key, status = excluded.status,"
                " cursor = excluded.cursor, updated_at = excluded.updated_at, body = excluded.body",
                (
                    declaration.number,
                    declaration.gate,
                    key,
                    declaration.status,
                    cursor,
                    now,
                    now,
                    body,
                ),
            )
        change = DeclarationChange(cursor=cursor, op="upsert", declaration=declaration)
        message = DeclarationChanges(
            gate=declaration.gate, since=since, until=cursor, changes=[change]
        )
        return cursor, message

    @staticmethod
    def _gate_cursor(conn: Any, gate: str) -> int:
        row = conn.execute(
            "SELECT max(cursor) FROM declaration_changes WHERE gate = ?", (gate,)
        ).fetchone()
        return int(row[0] or 0)

    def changes_after(self, gate: str, cursor: int, chunk: int = 500) -> list[DeclarationChanges]:
        """Every change of ``gate`` after ``cursor``, as messages of at most ``chunk`` changes."""
        with self.file.lock:
            conn = self.file.conn
            top = self._gate_cursor(conn, gate)
            reset = cursor > top
            start = 0 if reset else cursor
            rows = conn.execute(
                "SELECT cursor, op, body FROM declaration_changes WHERE gate = ? AND cursor > ?"
                " ORDER BY cursor",
                (gate, start),
            ).fetchall()
        changes = [
            DeclarationChange(
                cursor=int(c), op=op, declaration=msgspec.json.decode(body, type=Declaration)
            )
            for c, op, body in rows
        ]
        if not changes:
            return [
                DeclarationChanges(gate=gate, since=start, until=start, changes=[], reset=reset)
            ]
        messages = []
        since = start
        for i in range(0, len(changes), chunk):
            part = changes[i : i + chunk]
            until = part[-1].cursor
            messages.append(
                DeclarationChanges(
                    gate=gate,
                    since=since,
                    until=until,
                    changes=part,
                    more=i + chunk < len(changes),
                    reset=reset and i == 0,
                )
            )
            since = until
        return messages

    def get_declaration(self, number: str) -> Declaration | None:
        with self.file.lock:
            row = self.file.conn.execute(
                "SELECT body FROM declarations WHERE number = ?", (number,)
            ).fetchone()
        return msgspec.json.decode(row[0], type=Declaration) if row else None

    def list_declarations(
        self,
        *,
        gate: str | None = None,
        plate: str | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Declaration], int]:
        where: list[str] = []
        params: list[str | int] = []
        if gate:
            where.append("gate = ?")
            params.append(gate)
        if plate:
            where.append("plate_key = ?")
            params.append(plate_key(plate))
        if status:
            where.append("status = ?")
            params.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self.file.lock:
            conn = self.file.conn
            total = conn.execute(f"SELECT count(*) FROM declarations {clause}", params).fetchone()[
                0
            ]
            rows = conn.execute(
                f"SELECT body FROM declarations {clause} ORDER BY cursor DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return [msgspec.json.decode(r[0], type=Declaration) for r in rows], int(total)

    # -- reading events and devices -------------------------------------------------------

    def list_events(
        self,
        *,
        device: str | None = None,
        kind: str | None = None,
        plate: str | None = None,
        checkpoint: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Newest first. Keyset pagination: pass the returned ``next`` as ``before``."""
        where: list[str] = []
        params: list[str | int] = []
        for column, value in (("device", device), ("kind", kind), ("checkpoint", checkpoint)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if plate:
            where.append("plate_key = ?")
            params.append(plate_key(plate))
        if since:
            where.append("at >= ?")
            params.append(since.astimezone(UTC).isoformat())
        if until:
            where.append("at < ?")
            params.append(until.astimezone(UTC).isoformat())
        if before is not None:
            where.append("rowid < ?")
            params.append(before)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self.file.lock:
            rows = self.file.conn.execute(
                f"SELECT rowid, device, received_at, body FROM events {clause}"
                " ORDER BY rowid DESC LIMIT ?",
                (*params, limit + 1),
            ).fetchall()
        items = []
        for _rowid, dev, received_at, body in rows[:limit]:
            item = json.loads(body)
            item["device"] = dev
            item["received_at"] = received_at
            items.append(item)
        next_before = int(rows[limit - 1][0]) if len(rows) > limit else None
        return items, next_before

    def get_event(self, device: str, seq: int) -> dict[str, Any] | None:
        with self.file.lock:
            row = self.file.conn.execute(
                "SELECT received_at, body FROM events WHERE device = ? AND seq = ?", (device, seq)
            ).fetchone()
        if row is None:
            return None
        item = json.loads(row[1])
        item["device"] = device
        item["received_at"] = row[0]
        return dict(item)

    def event_seqs(self, device: str) -> list[int]:
        with self.file.lock:
            return [
                r[0]
                for r in self.file.conn.execute(
                    "SELECT seq FROM events WHERE device = ? ORDER BY seq", (device,)
                )
            ]

    def yard_occupancy(self) -> dict[str, int]:
        with self.file.lock:
            rows = self.file.conn.execute(
                "SELECT json_extract(body, '$.yard'), sum(CASE kind WHEN 'yard_entry' THEN 1"
                " ELSE -1 END) FROM events WHERE kind IN ('yard_entry', 'yard_exit') GROUP BY 1"
            ).fetchall()
        return {str(y): max(0, int(n)) for y, n in rows if y}

    def list_devices(self) -> list[dict[str, Any]]:
        with self.file.lock:
            rows = self.file.conn.execute(
                "SELECT device, gate, acked_seq, max_seq, events, duplicates, first_seen,"
                " last_seen, status, state FROM devices ORDER BY device"
            ).fetchall()
        out = []
        for device, gate, acked, top, events, dups, first, last, status, state in rows:
            out.append(
                {
                    "device": device,
                    "gate": gate,
                    "acked_seq": acked,
                    "max_seq": top,
                    "events": events,
                    "duplicates_ignored": dups,
                    "first_seen": first,
                    "last_seen": last,
                    "status": status,
                    "state": json.loads(state) if state else None,
                }
            )
        return out
