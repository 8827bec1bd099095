"""Central's SQLite store: events (idempotent on device+seq), devices, declarations, changes."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from central.accounts import AccountStore
from central.audit import AuditLog
from central.crossings import (
    CROP_KINDS,
    CrossingStore,
    Decided,
    EventBody,
    KeysetWhere,
    crop_url,
    event_body,
)
from central.schema import KIND, MIGRATIONS
from protocol.codec import MAX_PAYLOAD_BYTES, InvalidEvent, encode, to_json
from protocol.messages import (
    Declaration,
    DeclarationChange,
    DeclarationChanges,
    DeviceState,
    Event,
    LaneDecision,
    event_kind,
)
from protocol.plates import plate_key
from protocol.sqlite_file import ReadBudget, SqliteFile, Synchronous

#: How far beyond a device's contiguous seq an event may be, by default: well past any box's
#: send window (5,000 by default), far short of what a forged seq reaches for.
MAX_SEQ_AHEAD = 100_000
#: A declaration-changes message, at most (the wire codec refuses more than 8 MiB).
CHANGES_MAX_BYTES = 1024 * 1024
#: How long one read for the API may run before it is stopped, by default.
READ_BUDGET_S = 2.0
#: Read-only connections for the API's reads (WAL: they never wait for ingest).
READERS = 4
#: The writer connection's page cache (KiB).
WRITER_CACHE_KIB = 64 * 1024
#: WAL pages between automatic checkpoints (SQLite's default: 1,000).
WAL_CHECKPOINT_PAGES = 10_000


@dataclass(frozen=True)
class IngestResult:
    stored: int
    duplicates: int
    #: events whose seq central holds with another event id (kept aside as incidents)
    conflicts: int
    #: events refused for a seq implausibly far beyond the device's contiguous seq
    far_ahead: int
    #: events stored as invalid (an incident each), so they neither block nor vanish
    quarantined: int
    acked_seq: int
    #: central holds events of this batch beyond a gap: the box should resend from the ack
    resend: bool
    #: the lowest seq whose conflict blocks the ack (None: nothing blocks it)
    blocked_at: int | None


class InvalidDeclarationError(ValueError):
    """A declaration that would not decode as the protocol's ``Declaration`` (never stored)."""


class ConflictError(ValueError):
    """A conflict cannot be resolved as asked (unknown, already resolved, wrong choice)."""


class UnknownIncidentError(ConflictError):
    """No seq conflict has that id."""


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


def _event_row(
    device: str, event: Event, received_at: str, body: EventBody | None = None
) -> tuple[Any, ...]:
    """The ``events`` row; its body names the plate crop by hash (``crossings.event_body``)."""
    return (
        device,
        event.seq,
        event.id,
        event_kind(event),
        event.at.astimezone(UTC).isoformat(),
        event.checkpoint,
        _event_plate_key(event),
        received_at,
        (body or event_body(event)).json,
    )


def _event_item(device: str, received_at: str, body: str) -> dict[str, Any]:
    """A stored event as the API shows it: the box's fields, its device, when central got it,
    and where its plate crop is (``crop_url``)."""
    item: dict[str, Any] = json.loads(body)
    item["device"] = device
    item["received_at"] = received_at
    if item.get("kind") in CROP_KINDS:
        item["crop_url"] = crop_url(item.get("crop"))
    return item


def _quarantined_row(device: str, event: InvalidEvent, received_at: str) -> tuple[Any, ...]:
    body = {
        "kind": "invalid",
        "seq": event.seq,
        "id": event.id,
        "reason": event.reason,
        "payload_b64": base64.b64encode(event.payload).decode(),
    }
    return (
        device,
        event.seq,
        event.id,
        "invalid",
        received_at,
        "",
        None,
        received_at,
        json.dumps(body),
    )


_INCIDENT_COLUMNS = (
    "id",
    "kind",
    "device",
    "gate",
    "seq",
    "ref",
    "summary",
    "detail",
    "first_seen",
    "last_seen",
    "times",
    "resolved_at",
    "resolved_by",
    "resolution",
    "note",
)


def _incident(row: Sequence[Any]) -> dict[str, Any]:
    item = dict(zip(_INCIDENT_COLUMNS, row, strict=True))
    item["detail"] = json.loads(item["detail"])
    item["detail"].pop("incoming_row", None)
    return item


class CentralStore:
    """Central's SQLite file: events, devices, incidents, declarations (this class), with the
    accounts (``accounts``) and the audit trail (``audit``) in the same file and schema."""

    def __init__(
        self,
        path: str | Path,
        synchronous: Synchronous = "FULL",
        *,
        max_seq_ahead: int = MAX_SEQ_AHEAD,
        changes_max_bytes: int = CHANGES_MAX_BYTES,
        read_budget_s: float = READ_BUDGET_S,
        readers: int = READERS,
    ) -> None:
        self.file = SqliteFile(path, synchronous, migrations=MIGRATIONS, kind=KIND)
        self.accounts = AccountStore(self.file)
        # ingest writes into big indexes (plates, crops): keep their pages in memory, and
        # checkpoint the WAL less often (a page that many commits touch is copied once)
        self.file.conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
        self.file.conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        #: the API's reads: read-only connections, each read under a time budget
        self.reads = self.file.readers(readers, read_budget_s)
        self.audit = AuditLog(self.file, self.reads)
        self.crossings = CrossingStore(self.reads)
        self.max_seq_ahead = max_seq_ahead
        self.changes_max_bytes = changes_max_bytes

    def close(self) -> None:
        self.file.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes inside commit together (a change and its audit row), or not at all."""
        with self.file.transaction():
            yield

    # -- ingest ----------------------------------------------------------------------------

    def ingest(
        self,
        device: str,
        events: Sequence[Event],
        quarantined: Sequence[InvalidEvent] = (),
    ) -> IngestResult:
        """Store a batch idempotently and advance the device's highest contiguous seq.

        A seq central already holds with another event id is a conflict: both events are kept
        (the incoming one in an incident) and the ack never passes it until someone resolves
        it. Events more than ``max_seq_ahead`` beyond the contiguous seq are refused.

        In the same transaction: plate crops go to ``crops`` (once each; the event keeps the
        hash), each stored lane decision becomes a crossing, and overrides up to the new
        contiguous seq open the held crossings they followed (``CrossingStore``).
        """
        now = _now()
        with self.file.transaction() as conn:
            conn.execute(
                "INSERT INTO devices(device, first_seen, last_seen) VALUES (?, ?, ?)"
                " ON CONFLICT(device) DO UPDATE SET last_seen = excluded.last_seen",
                (device, now, now),
            )
            acked, max_seq, gate = conn.execute(
                "SELECT acked_seq, max_seq, gate FROM devices WHERE device = ?", (device,)
            ).fetchone()
            limit = int(acked) + self.max_seq_ahead
            kept = [e for e in events if e.seq <= limit]
            bodies = [event_body(e) for e in kept]
            crops = {b.crop: b.jpeg for b in bodies if b.crop and b.jpeg is not None}
            if crops:
                self.crossings.store_crops(conn, crops, now)
            rows = [_event_row(device, e, now, b) for e, b in zip(kept, bodies, strict=True)]
            rows += [_quarantined_row(device, q, now) for q in quarantined if q.seq <= limit]
            far_ahead = len(events) + len(quarantined) - len(rows)
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO events(device, seq, id, kind, at, checkpoint, plate_key,"
                " received_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            stored = conn.total_changes - before
            conflicts = 0
            if stored < len(rows):
                conflicts = self._record_conflicts(conn, device, rows, now)
            duplicates = len(rows) - stored - conflicts
            n_quarantined = 0
            for q in quarantined:
                if q.seq <= limit:
                    n_quarantined += self._record_invalid(conn, device, q, now)
            decisions = [  # rows: the kept events' first, in order, then the quarantined
                Decided(e, b.crop, row[4], row[6])
                for e, b, row in zip(kept, bodies, rows, strict=False)
                if isinstance(e, LaneDecision)
            ]
            self.crossings.record(conn, device, gate, decisions, verify=stored < len(rows))
            contiguous, blocked = self._advance(conn, device, int(acked))
            self.crossings.settle_overrides(conn, device, contiguous, kept)
            seqs = [r[1] for r in rows]
            top = max([int(max_seq), *seqs])
            conn.execute(
                "UPDATE devices SET acked_seq = ?, max_seq = ?, events = events + ?,"
                " duplicates = duplicates + ? WHERE device = ?",
                (contiguous, top, stored, duplicates, device),
            )
        resend = blocked is None and any(seq > contiguous for seq in seqs)
        return IngestResult(
            stored, duplicates, conflicts, far_ahead, n_quarantined, contiguous, resend, blocked
        )

    def _record_conflicts(
        self, conn: sqlite3.Connection, device: str, rows: list[tuple[Any, ...]], now: str
    ) -> int:
        """Incidents for the rows whose seq central holds with another id; their count."""
        incoming = {r[1]: r for r in rows}
        conflicts = 0
        seqs = list(incoming)
        for chunk_start in range(0, len(seqs), 500):
            chunk = seqs[chunk_start : chunk_start + 500]
            marks = ",".join("?" * len(chunk))
            held = conn.execute(
                f"SELECT seq, id, body FROM events WHERE device = ? AND seq IN ({marks})",
                (device, *chunk),
            ).fetchall()
            for seq, stored_id, stored_body in held:
                row = incoming[seq]
                if row[2] == stored_id:
                    continue
                conflicts += 1
                detail = json.dumps(
                    {
                        "stored": json.loads(stored_body),
                        "incoming": json.loads(row[8]),
                        # id, kind, at, checkpoint, plate_key, received_at, body: to restore it
                        "incoming_row": list(row[2:]),
                    }
                )
                conn.execute(
                    "INSERT INTO incidents(kind, device, seq, ref, summary, detail, first_seen,"
                    " last_seen) VALUES ('seq_conflict', ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(kind, device, gate, seq, ref) DO UPDATE SET"
                    " times = times + 1, last_seen = excluded.last_seen",
                    (
                        device,
                        seq,
                        row[2],
                        f"seq {seq} of {device} arrived as event {row[2]!r};"
                        f" central holds event {stored_id!r} there",
                        detail,
                        now,
                        now,
                    ),
                )
        return conflicts

    @staticmethod
    def _record_invalid(
        conn: sqlite3.Connection, device: str, event: InvalidEvent, now: str
    ) -> int:
        cur = conn.execute(
            "INSERT INTO incidents(kind, device, seq, ref, summary, detail, first_seen, last_seen)"
            " VALUES ('invalid_event', ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(kind, device, gate, seq, ref) DO UPDATE SET"
            " times = times + 1, last_seen = excluded.last_seen",
            (
                device,
                event.seq,
                event.id,
                f"event {event.seq} of {device} failed validation: {event.reason[:200]}",
                json.dumps({"reason": event.reason}),
                now,
                now,
            ),
        )
        return cur.rowcount

    def _advance(self, conn: sqlite3.Connection, device: str, acked: int) -> tuple[int, int | None]:
        """The device's contiguous seq from ``acked``, stopping before its first open conflict.

        A conflict below ``acked`` moves the ack back: central cannot tell which of two events
        at one seq is the box's, so it acknowledges neither until someone decides. The box
        never moves its own ack back, and keeps every event it has not seen acknowledged.
        """
        row = conn.execute(
            "SELECT min(seq) FROM incidents WHERE device = ? AND kind = 'seq_conflict'"
            " AND resolved_at IS NULL",
            (device,),
        ).fetchone()
        blocked = int(row[0]) if row and row[0] is not None else None
        if blocked is not None and blocked <= acked:
            return blocked - 1, blocked
        contiguous = self._walk_contiguous(conn, device, acked)
        if blocked is not None and contiguous >= blocked:
            contiguous = blocked - 1
        return contiguous, blocked

    @staticmethod
    def _walk_contiguous(conn: sqlite3.Connection, device: str, contiguous: int) -> int:
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

    # -- incidents ---------------------------------------------------------------------------

    def list_incidents(
        self,
        *,
        device: str | None = None,
        kind: str | None = None,
        open_only: bool = True,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        where = ["1"]
        params: list[Any] = []
        if device:
            where.append("device = ?")
            params.append(device)
        if kind:
            where.append("kind = ?")
            params.append(kind)
        if open_only:
            where.append("resolved_at IS NULL")
        rows = self.file.all(
            "SELECT id, kind, device, gate, seq, ref, summary, detail, first_seen, last_seen,"
            f" times, resolved_at, resolved_by, resolution, note FROM incidents"
            f" WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [_incident(r) for r in rows]

    def open_incident_counts(self) -> dict[str, int]:
        rows = self.file.all(
            "SELECT kind, count(*) FROM incidents WHERE resolved_at IS NULL GROUP BY kind"
        )
        return {str(k): int(n) for k, n in rows}

    def resolve_conflict(
        self, incident_id: int, keep: str, by: str, note: str = ""
    ) -> tuple[str, int]:
        """Settle a seq conflict: ``keep`` "stored" or "incoming" becomes the device's event.

        The other event stays in the incident's detail. Returns (device, its contiguous seq
        now), so the caller can acknowledge what the resolution unblocked.
        """
        if keep not in ("stored", "incoming"):
            raise ConflictError("keep is 'stored' or 'incoming'")
        now = _now()
        with self.file.transaction() as conn:
            row = conn.execute(
                "SELECT device, seq, detail, resolved_at FROM incidents"
                " WHERE id = ? AND kind = 'seq_conflict'",
                (incident_id,),
            ).fetchone()
            if row is None:
                raise UnknownIncidentError(f"no seq conflict {incident_id}")
            device, seq, detail, resolved_at = row
            if resolved_at is not None:
                raise ConflictError(f"seq conflict {incident_id} was resolved at {resolved_at}")
            if keep == "incoming":
                row_in = json.loads(detail)["incoming_row"]
                conn.execute(
                    "UPDATE events SET id = ?, kind = ?, at = ?, checkpoint = ?, plate_key = ?,"
                    " received_at = ?, body = ? WHERE device = ? AND seq = ?",
                    (*row_in, device, seq),
                )
                self.crossings.event_replaced(conn, device, seq)
                others = f"superseded: the incoming event of incident {incident_id} was kept"
            else:
                others = None
            conn.execute(
                "UPDATE incidents SET resolved_at = ?, resolved_by = ?, resolution = ?, note = ?"
                " WHERE id = ?",
                (now, by, f"kept {keep}", note, incident_id),
            )
            if others:
                conn.execute(
                    "UPDATE incidents SET resolved_at = ?, resolved_by = ?, resolution = ?"
                    " WHERE kind = 'seq_conflict' AND device = ? AND seq = ? AND id != ?"
                    " AND resolved_at IS NULL",
                    (now, by, others, device, seq, incident_id),
                )
            acked = int(
                conn.execute(
                    "SELECT acked_seq FROM devices WHERE device = ?", (device,)
                ).fetchone()[0]
            )
            contiguous, _ = self._advance(conn, device, acked)
            conn.execute("UPDATE devices SET acked_seq = ? WHERE device = ?", (contiguous, device))
        return str(device), contiguous

    def device_known(self, device: str) -> bool:
        """Whether the box has ever reported to central."""
        return self.file.one("SELECT 1 FROM devices WHERE device = ?", (device,)) is not None

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

    def set_device_status(self, device: str, status: str) -> None:
        """Mark a box's status by central's own decision (a revoked box is heard no more, so
        nothing it sends could ever say it is offline)."""
        with self.file.transaction() as conn:
            conn.execute("UPDATE devices SET status = ? WHERE device = ?", (status, device))

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
        self,
        declaration: Declaration,
        *,
        must_exist: bool | None = None,
        actor: str = "central",
        action: str = "put",
    ) -> tuple[int, DeclarationChanges]:
        """Create or replace a declaration; returns (cursor, the change message to publish).

        ``must_exist``: True refuses to create (KeyError), False refuses to replace
        (FileExistsError), None does either. Every version is kept (``history``), with who
        made it (``actor``) and how (``action``).
        """
        key = plate_key(declaration.plate)
        now = _now()
        body = to_json(declaration).decode()
        try:  # what is stored must decode, here and at every box, as it will be sent
            msgspec.json.decode(body, type=Declaration)
        except msgspec.ValidationError as exc:
            raise InvalidDeclarationError(f"declaration {declaration.number}: {exc}") from None
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
                " updated_at, body, enterprise) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(number) DO UPDATE SET plate_key = excluded.plate_key,"
                " status = excluded.status, cursor = excluded.cursor,"
                " updated_at = excluded.updated_at, body = excluded.body,"
                " enterprise = excluded.enterprise",
                (
                    declaration.number,
                    declaration.gate,
                    key,
                    declaration.status,
                    cursor,
                    now,
                    now,
                    body,
                    declaration.enterprise,
                ),
            )
            conn.execute(
                "INSERT INTO declaration_versions(number, version, at, actor, action, body)"
                " VALUES (?, (SELECT coalesce(max(version), 0) + 1 FROM declaration_versions"
                " WHERE number = ?), ?, ?, ?, ?)",
                (declaration.number, declaration.number, now, actor, action, body),
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
        """Every change of ``gate`` after ``cursor``, as messages of at most ``chunk`` changes
        and ``changes_max_bytes`` encoded.

        A stored change that no box could take (it fails today's validation, or alone exceeds
        a message) is left out with an incident: the messages' ``since``/``until`` still cover
        its cursor, so it never blocks the changes after it.
        """
        with self.file.lock:
            conn = self.file.conn
            top = self._gate_cursor(conn, gate)
            reset = cursor > top
            start = 0 if reset else cursor
            rows = conn.execute(
                "SELECT cursor, op, number, body FROM declaration_changes"
                " WHERE gate = ? AND cursor > ? ORDER BY cursor",
                (gate, start),
            ).fetchall()
        # what the changes may take of a message: the rest is its envelope (gate, cursors...)
        budget = min(self.changes_max_bytes, MAX_PAYLOAD_BYTES // 2) - 256
        messages: list[DeclarationChanges] = []
        part: list[DeclarationChange] = []
        size = 0
        since = start
        for c, op, number, body in rows:
            change = self._deliverable(gate, int(c), op, number, body, budget)
            if change is None:
                continue
            change_size = len(encode(change))
            if part and (len(part) >= chunk or size + change_size > budget):
                messages.append(
                    DeclarationChanges(
                        gate=gate, since=since, until=part[-1].cursor, changes=part, more=True
                    )
                )
                since, part, size = part[-1].cursor, [], 0
            part.append(change)
            size += change_size
        until = max(since, top)
        messages.append(
            DeclarationChanges(gate=gate, since=since, until=until, changes=part, more=False)
        )
        if reset:
            messages[0] = msgspec.structs.replace(messages[0], reset=True)
        return messages

    def _deliverable(
        self, gate: str, cursor: int, op: str, number: str, body: str, budget: int
    ) -> DeclarationChange | None:
        """The stored change as a message part, or None (and an incident) if none can be."""
        try:
            # Decoded and checked as a box will decode and check it.
            change = msgspec.convert(
                {"cursor": cursor, "op": op, "declaration": msgspec.json.decode(body)},
                DeclarationChange,
            )
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            problem = f"fails validation: {exc}"
        else:
            if len(encode(change)) <= budget:
                return change
            problem = f"encodes to more than {budget} bytes"
        self.record_incident(
            "change_undeliverable",
            gate=gate,
            ref=str(cursor),
            summary=f"change {cursor} of declaration {number} (gate {gate}) skipped: {problem}",
            detail={"cursor": cursor, "number": number, "problem": problem[:500]},
        )
        return None

    def record_incident(
        self,
        kind: str,
        *,
        summary: str,
        detail: dict[str, Any],
        device: str = "",
        gate: str = "",
        seq: int = 0,
        ref: str = "",
    ) -> None:
        now = _now()
        with self.file.transaction() as conn:
            conn.execute(
                "INSERT INTO incidents(kind, device, gate, seq, ref, summary, detail, first_seen,"
                " last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(kind, device, gate, seq, ref) DO UPDATE SET"
                " times = times + 1, last_seen = excluded.last_seen",
                (kind, device, gate, seq, ref, summary, json.dumps(detail), now, now),
            )

    def declaration_history(self, number: str) -> list[dict[str, Any]]:
        """Every version of a declaration, oldest first: version, at, actor, action, body."""
        rows = self.file.all(
            "SELECT version, at, actor, action, body FROM declaration_versions"
            " WHERE number = ? ORDER BY version",
            (number,),
        )
        return [
            {"version": v, "at": at, "actor": actor, "action": action, "declaration": json.loads(b)}
            for v, at, actor, action, b in rows
        ]

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
        enterprise: str | None = None,
        day: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Declaration], int]:
        """``day`` (YYYYMMDD): declarations numbered on that day (a number starts with it)."""
        where: list[str] = []
        params: list[str | int] = []
        if day:
            where.append("number >= ? AND number < ?")
            params.extend((day, day + "a"))
        if enterprise:
            where.append("enterprise = ?")
            params.append(enterprise)
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

    def declarations_by_number(
        self, numbers: Collection[str], budget: ReadBudget | None = None
    ) -> dict[str, Declaration]:
        """Several declarations in one read (those that exist)."""
        wanted = sorted({n for n in numbers if n})
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        rows = self.reads.all(
            f"SELECT number, body FROM declarations WHERE number IN ({marks})", wanted, budget
        )
        return {n: msgspec.json.decode(b, type=Declaration) for n, b in rows}

    def declaration_counts(
        self,
        gate: str | None,
        direction: str | None,
        since: datetime,
        budget: ReadBudget | None = None,
    ) -> dict[str, int]:
        """The gate's picture from its declarations: ``declared_today`` (created since
        ``since``), ``en_route`` (declared or accepted, not yet past the border guard),
        ``exited_today`` (exited since ``since``), and one count per status of today's."""
        terms = ""
        params: list[Any] = []
        if gate:
            terms += " AND +gate = ?"
            params.append(gate)
        if direction:
            terms += " AND json_extract(body, '$.direction') = ?"
            params.append(direction)
        day = since.astimezone(UTC).isoformat()
        # each count over its own index: today's, the open ones, today's exits
        today = self.reads.one(
            f"SELECT count(*) FROM declarations WHERE created_at >= ?{terms}",
            (day, *params),
            budget,
        )
        open_rows = self.reads.all(
            "SELECT status, count(*), sum(coalesce(json_extract(body,"
            " '$.steps.border_guard.done'), 0) = 0) FROM declarations"
            f" WHERE status IN ('declared', 'accepted', 'returned'){terms} GROUP BY status",
            params,
            budget,
        )
        exited = self.reads.one(
            "SELECT count(*) FROM declarations INDEXED BY declarations_exited"
            f" WHERE status = 'exited' AND updated_at >= ?{terms}",
            (day, *params),
            budget,
        )
        counts = {"declared_today": int(today[0]), "exited_today": int(exited[0])}
        counts.update({"returned": 0, "accepted": 0, "declared": 0, "en_route": 0})
        for status, n, not_at_gate in open_rows:
            counts[str(status)] = int(n)
            if status in ("declared", "accepted"):
                counts["en_route"] += int(not_at_gate or 0)
        return counts

    def declarations_in_status(
        self,
        status: str,
        gate: str | None = None,
        limit: int = 500,
        budget: ReadBudget | None = None,
    ) -> list[Declaration]:
        """Declarations in one status (an agency's queue is made from the accepted ones), the
        oldest change first."""
        where = "status = ? AND gate = ?" if gate else "status = ?"
        params = (status, gate, limit) if gate else (status, limit)
        rows = self.reads.all(
            f"SELECT body FROM declarations WHERE {where} ORDER BY cursor LIMIT ?", params, budget
        )
        return [msgspec.json.decode(r[0], type=Declaration) for r in rows]

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
        budget: ReadBudget | None = None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Newest first (by the event's time, then arrival; one device's in its seq order).
        Keyset pagination: pass the returned ``next`` as ``before``. One statement over one
        index (plate, else kind, else device, else time), on a read-only connection under
        ``budget`` (the store's default when None): ``QueryTimeoutError`` past it,
        ``QueryCancelledError`` when cancelled."""
        where = KeysetWhere("events", "rowid")
        if plate:
            where.add("plate", "plate_key = ?", "+plate_key = ?", plate_key(plate))
        if kind:
            where.add("kind", "kind = ?", "+kind = ?", kind)
        if device:
            where.add("device", "device = ?", "+device = ?", device)
        if checkpoint:
            where.plain("+checkpoint = ?", checkpoint)
        where.time_range(since, until)
        where.keyset(before)
        rows = self.reads.all(
            f"SELECT rowid, device, received_at, body FROM events {where.sql()}",
            (*where.params, limit + 1),
            budget,
        )
        items = [_event_item(dev, received_at, body) for _, dev, received_at, body in rows[:limit]]
        next_before = int(rows[limit - 1][0]) if len(rows) > limit else None
        return items, next_before

    def get_event(
        self, device: str, seq: int, budget: ReadBudget | None = None
    ) -> dict[str, Any] | None:
        row = self.reads.one(
            "SELECT received_at, body FROM events WHERE device = ? AND seq = ?",
            (device, seq),
            budget,
        )
        return None if row is None else _event_item(device, row[0], row[1])

    def read_budget(self, seconds: float | None = None) -> ReadBudget:
        """A budget for one read of the API (the store's default length when None); cancel it
        to stop the read (its client left)."""
        return self.reads.budget(seconds)

    def interrupt_reads(self, reason: str) -> None:
        """Stop every read in flight (central is stopping); ingest and writes go on."""
        self.reads.interrupt(reason)

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

    def yard_moves(
        self, gate: str | None, since: datetime, budget: ReadBudget | None = None
    ) -> tuple[dict[str, int], list[tuple[str, str, int]]]:
        """Yard occupancy at ``since`` per yard, and every entry (+1) and exit (-1) in the day
        from ``since``, in time order: (at, yard, step). Only the gate's boxes when ``gate``
        is given."""
        # the kind index leads (the unary + keeps the planner off the device key)
        devices = " AND +device IN (SELECT device FROM devices WHERE gate = ?)" if gate else ""
        extra: tuple[Any, ...] = (gate,) if gate else ()
        day = since.astimezone(UTC).isoformat()
        before = self.reads.all(
            "SELECT json_extract(body, '$.yard'), sum(CASE kind WHEN 'yard_entry' THEN 1"
            " ELSE -1 END) FROM events WHERE kind IN ('yard_entry', 'yard_exit') AND at < ?"
            f"{devices} GROUP BY 1",
            (day, *extra),
            budget,
        )
        moves = self.reads.all(
            "SELECT at, json_extract(body, '$.yard'), CASE kind WHEN 'yard_entry' THEN 1"
            " ELSE -1 END FROM events WHERE kind IN ('yard_entry', 'yard_exit') AND at >= ?"
            f" AND at < ?{devices}",
            (day, (since + timedelta(days=1)).astimezone(UTC).isoformat(), *extra),
            budget,
        )
        start = {str(y): max(0, int(n)) for y, n in before if y}
        return start, sorted((str(at), str(y), int(d)) for at, y, d in moves if y)

    def device_faults(
        self, since: datetime, budget: ReadBudget | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Each box's ``device_fault`` events since ``since`` (newest first, 5 per box)."""
        rows = self.reads.all(
            "SELECT device, at, checkpoint, json_extract(body, '$.component'),"
            " json_extract(body, '$.message') FROM events WHERE kind = 'device_fault'"
            " AND at >= ? ORDER BY at DESC LIMIT 500",
            (since.astimezone(UTC).isoformat(),),
            budget,
        )
        out: dict[str, list[dict[str, Any]]] = {}
        for device, at, checkpoint, component, message in rows:
            faults = out.setdefault(device, [])
            if len(faults) < 5:
                faults.append(
                    {"at": at, "checkpoint": checkpoint, "component": component, "message": message}
                )
        return out

    def events_between(
        self, device: str, first_seq: int, last_seq: int, budget: ReadBudget | None = None
    ) -> list[dict[str, Any]]:
        """One box's events with seq in [first_seq, last_seq], in seq order."""
        rows = self.reads.all(
            "SELECT received_at, body FROM events WHERE device = ? AND seq BETWEEN ? AND ?"
            " ORDER BY seq LIMIT 500",
            (device, first_seq, last_seq),
            budget,
        )
        return [_event_item(device, received_at, body) for received_at, body in rows]

    def device_status(self, budget: ReadBudget | None = None) -> dict[str, tuple[str, str]]:
        """Each box's gate and status (online, offline), from the read pool."""
        rows = self.reads.all("SELECT device, gate, status FROM devices", (), budget)
        return {d: (g or "", s or "") for d, g, s in rows}

    def list_devices(self) -> list[dict[str, Any]]:
        """Every box seen: its last state, how far central holds its events, open incidents."""
        with self.file.lock:
            rows = self.file.conn.execute(
                "SELECT device, gate, acked_seq, max_seq, events, duplicates, first_seen,"
                " last_seen, status, state FROM devices ORDER BY device"
            ).fetchall()
            open_incidents = self.file.conn.execute(
                "SELECT device, kind, count(*), min(seq) FROM incidents"
                " WHERE resolved_at IS NULL AND device != '' GROUP BY device, kind"
            ).fetchall()
        incidents: dict[str, dict[str, Any]] = {}
        for device, kind, n, first_seq in open_incidents:
            incidents.setdefault(device, {})[kind] = {"open": n, "first_seq": first_seq}
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
                    "incidents": incidents.get(device, {}),
                }
            )
        return out
