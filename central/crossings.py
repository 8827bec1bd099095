"""Crossings: one row per lane decision, kept as events arrive, and plate crops stored once.

``CrossingStore`` owns three tables of central's file (schema: ``central/schema.py``):

- ``crossings``: one row per ``lane_decision`` event, written by ``CentralStore.ingest`` in the
  transaction that stores the event (gate, checkpoint, plate as read and its key, decision,
  reasons, declaration, weight, time, crop), and the manual override that opened a held truck
  (a ``manual_override`` event follows its held decision at the same device and checkpoint);
- ``crops``: each plate crop's JPEG once, keyed by its SHA-256 (a box sends the same crop with
  its ``plate_read`` and its ``lane_decision``); events keep the hash (``crop``), never the
  bytes, and the API serves them at ``/api/crops/{hash}``;
- ``crossing_progress``: per device, the seq up to which overrides have been applied.

An override is applied once every event before it is at central (the device's contiguous
seq), so it always finds the decision it followed: one arriving ahead of a gap waits for the
gap to fill, and never opens an older held crossing by mistake.

Every list is one SQL statement over one index that ends in ``at`` (one device's: its
``(device, seq)`` key), newest first, with keyset pagination (``before`` is the id of the last
crossing of the previous page), read on the read pool under a time budget (``KeysetWhere``).
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import json
import re
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import msgspec

from protocol.codec import to_json
from protocol.messages import Event, LaneDecision, ManualOverride
from protocol.plates import plate_key
from protocol.sqlite_file import ReadBudget, ReadPool

#: Where the API serves a crop (``CROP_PATH + hash``).
CROP_PATH = "/api/crops/"
#: A crop's key: its SHA-256, lowercase hex.
CROP_HASH = re.compile(r"^[0-9a-f]{64}$")
#: The events whose JSON body carries a crop (a hash since schema version 4).
CROP_KINDS = ("plate_read", "lane_decision")


class EventBody(NamedTuple):
    """An event as central stores it: its JSON with the crop's hash in place of the bytes."""

    json: str
    crop: str | None
    jpeg: bytes | None


class Decided(NamedTuple):
    """A stored lane decision, for its crossing: the event, its crop's hash, and its time and
    plate key as the events row has them."""

    event: LaneDecision
    crop: str | None
    at: str
    plate_key: str | None


def crop_hash(jpeg: bytes) -> str:
    return hashlib.sha256(jpeg).hexdigest()


def event_body(event: Event) -> EventBody:
    """The event's JSON for the ``events`` table: ``crop_jpeg`` becomes ``crop`` (the hash)."""
    jpeg: bytes | None = getattr(event, "crop_jpeg", None)
    if not hasattr(event, "crop_jpeg"):
        return EventBody(to_json(event).decode(), None, None)
    digest = crop_hash(jpeg) if jpeg is not None else None
    if jpeg is not None:
        event = msgspec.structs.replace(event, crop_jpeg=None)
    # The key can only be the field itself: a quote inside a string value is escaped.
    value = f'"{digest}"' if digest else "null"
    body = to_json(event).decode().replace('"crop_jpeg":null', f'"crop":{value}', 1)
    return EventBody(body, digest, jpeg)


def crop_url(digest: str | None) -> str | None:
    return CROP_PATH + digest if digest else None


def move_inline_crops(conn: sqlite3.Connection) -> None:
    """Migration step: crops that older releases kept inline (base64 in the event's JSON) move
    to ``crops``; every crop-carrying event then names its crop by hash (``crop``)."""
    kinds = ",".join(f"'{k}'" for k in CROP_KINDS)
    rows = conn.execute(
        f"SELECT rowid, body, received_at FROM events WHERE kind IN ({kinds})"
        ' AND instr(body, \'"crop_jpeg":"\') > 0'
    ).fetchall()
    for rowid, body, received_at in rows:
        item = json.loads(body)
        jpeg = base64.b64decode(item.pop("crop_jpeg"))
        item["crop"] = digest = crop_hash(jpeg)
        conn.execute(
            "INSERT OR IGNORE INTO crops(hash, jpeg, bytes, first_seen) VALUES (?, ?, ?, ?)",
            (digest, jpeg, len(jpeg), received_at),
        )
        conn.execute(
            "UPDATE events SET body = ? WHERE rowid = ?",
            (json.dumps(item, ensure_ascii=False, separators=(",", ":")), rowid),
        )
    conn.execute(
        "UPDATE events SET body = replace(body, '\"crop_jpeg\":null', '\"crop\":null')"
        f" WHERE kind IN ({kinds}) AND instr(body, '\"crop_jpeg\":null') > 0"
    )


class Crossing(msgspec.Struct, kw_only=True):
    """A vehicle's decision at a checkpoint, and the override that opened it if it was held."""

    #: pass the last one's as ``before`` for the next (older) page
    id: int
    device: str
    seq: int
    #: the box's gate (null until central has heard it from the box)
    gate: str | None
    checkpoint: str
    at: datetime
    #: the plate as the box read it, and its lookup key (``protocol.plates.plate_key``)
    plate: str | None
    plate_key: str | None
    decision: Literal["open", "hold"]
    reasons: list[str]
    declaration: str | None
    weight_kg: float | None
    #: the plate crop's SHA-256, and where to get the JPEG
    crop: str | None
    crop_url: str | None
    #: held now: the decision was hold and no override has opened it yet
    held: bool
    overridden_by: str | None
    override_reason: str | None
    overridden_at: datetime | None
    #: a hold whose lane has decided again (the truck left): the seq of that decision
    moved_on: int | None = None


_COLUMNS = (
    "id, device, seq, gate, checkpoint, at, plate, plate_key, decision, reasons, declaration,"
    " weight_kg, crop, overridden_by, override_reason, overridden_at, moved_on"
)

_INSERT = (
    "INSERT OR IGNORE INTO crossings(device, seq, gate, checkpoint, at, plate, plate_key,"
    " decision, reasons, declaration, weight_kg, crop) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
#: The same, only where the events table holds this very event (a seq conflict is not stored).
_INSERT_IF_STORED = (
    "INSERT OR IGNORE INTO crossings(device, seq, gate, checkpoint, at, plate, plate_key,"
    " decision, reasons, declaration, weight_kg, crop) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
    " WHERE EXISTS (SELECT 1 FROM events WHERE device = ? AND seq = ? AND id = ?)"
)
#: An override opens the decision it followed: the latest crossing at its device and
#: checkpoint before it, if that one is held.
_OVERRIDE = (
    "UPDATE crossings SET overridden_by = ?, override_reason = ?, overridden_at = ?,"
    " override_seq = ? WHERE id = (SELECT id FROM crossings WHERE device = ? AND seq < ?"
    " AND checkpoint = ? ORDER BY seq DESC LIMIT 1)"
    " AND decision = 'hold' AND overridden_at IS NULL"
)


#: The holds at a lane before its latest decision have moved on (the partial index of holds at
#: their lane finds them: a lane holds one truck at a time, so it is a handful of rows).
_MOVED_ON = (
    "UPDATE crossings SET moved_on = (SELECT min(l.seq) FROM crossings l"
    " WHERE l.device = crossings.device AND l.seq > crossings.seq"
    " AND l.checkpoint = crossings.checkpoint)"
    " WHERE id IN (SELECT id FROM crossings INDEXED BY crossings_at_lane"
    " WHERE decision = 'hold' AND overridden_at IS NULL AND moved_on IS NULL"
    " AND device = ? AND checkpoint = ? AND seq < ?)"
)
#: A hold stored after a later decision at its lane (a gap filled late) has moved on at once.
_MOVED_ON_LATE = (
    "UPDATE crossings SET moved_on = (SELECT min(l.seq) FROM crossings l"
    " WHERE l.device = crossings.device AND l.seq > crossings.seq"
    " AND l.checkpoint = crossings.checkpoint)"
    " WHERE device = ? AND seq = ? AND decision = 'hold' AND moved_on IS NULL"
)


def _key(plate: str | None) -> str | None:
    if not plate:
        return None
    try:
        return plate_key(plate)
    except ValueError:
        return None


_reasons_json = msgspec.json.Encoder()


def _reasons(reasons: list[str]) -> str:
    return _reasons_json.encode(reasons).decode() if reasons else "[]"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _crossing(row: Sequence[Any]) -> Crossing:
    cid, device, seq, gate, cp, at, plate, key, decision, reasons, decl, kg, crop = row[:13]
    by, why, when, moved_on = row[13:]
    return Crossing(
        id=cid,
        device=device,
        seq=seq,
        gate=gate,
        checkpoint=cp,
        at=datetime.fromisoformat(at),
        plate=plate,
        plate_key=key,
        decision=decision,
        reasons=json.loads(reasons),
        declaration=decl,
        weight_kg=kg,
        crop=crop,
        crop_url=crop_url(crop),
        held=decision == "hold" and when is None,
        overridden_by=by,
        override_reason=why,
        overridden_at=datetime.fromisoformat(when) if when else None,
        moved_on=moved_on,
    )


class KeysetWhere:
    """A list query's WHERE and ORDER BY, newest first, with keyset pagination.

    Each filter once; only the leading one (the first ``add``ed) may use its index: the others
    carry SQLite's unary ``+``, which keeps the planner off their index. Every index a list
    leads with ends in ``at``, so the statement walks one index in time order and needs no
    sort; a list led by ``device`` walks the device's ``(device, seq)`` key in seq order
    instead (one box's order is its time order). ``before`` is the ``key`` (rowid) of the last
    row of the previous page.
    """

    def __init__(self, table: str, key: str) -> None:
        self.table = table
        self.key = key
        self.terms: list[str] = []
        self.params: list[Any] = []
        self.leading: str | None = None

    def add(self, name: str, indexed: str, plain: str, *params: Any) -> None:
        if self.leading is None:
            self.leading = name
            self.terms.append(indexed)
        else:
            self.terms.append(plain)
        self.params.extend(params)

    def plain(self, term: str, *params: Any) -> None:
        self.terms.append(term)
        self.params.extend(params)

    def time_range(self, since: datetime | None, until: datetime | None) -> None:
        if since is not None:
            self.plain("at >= ?", _iso(since))
        if until is not None:
            self.plain("at < ?", _iso(until))

    def keyset(self, before: int | None) -> None:
        """Only rows after the one whose key is ``before``, in the list's order."""
        if before is None:
            return
        if self.leading == "device":
            self.plain(f"seq < (SELECT seq FROM {self.table} WHERE {self.key} = ?)", before)
            return
        at = f"(SELECT at FROM {self.table} WHERE {self.key} = ?)"
        self.plain(f"at <= {at} AND (at < {at} OR {self.key} < ?)", before, before, before)

    def sql(self) -> str:
        """``WHERE ... ORDER BY ... LIMIT ?`` (bind ``params`` and then the limit)."""
        where = f"WHERE {' AND '.join(self.terms)} " if self.terms else ""
        if self.leading == "device":
            return f"{where}ORDER BY seq DESC LIMIT ?"
        return f"{where}ORDER BY at DESC, {self.key} DESC LIMIT ?"


class CrossingStore:
    """The crossings, the crops and the override progress (see the module docstring)."""

    def __init__(self, reads: ReadPool) -> None:
        self.reads = reads

    # -- written by CentralStore.ingest, inside its transaction --------------------------------

    @staticmethod
    def store_crops(conn: sqlite3.Connection, crops: dict[str, bytes], now: str) -> None:
        conn.executemany(
            "INSERT OR IGNORE INTO crops(hash, jpeg, bytes, first_seen) VALUES (?, ?, ?, ?)",
            [(h, jpeg, len(jpeg), now) for h, jpeg in crops.items()],
        )

    @staticmethod
    def record(
        conn: sqlite3.Connection,
        device: str,
        gate: str | None,
        decisions: Sequence[Decided],
        *,
        verify: bool,
    ) -> None:
        """A crossing for each decision whose event was stored.

        ``verify``: some events of the batch were not stored (duplicates, seq conflicts), so
        each crossing is written only where the events table holds that very event.
        """
        if gate:  # crossings stored before central heard the box's gate get it now
            conn.execute(
                "UPDATE crossings SET gate = ? WHERE device = ? AND gate IS NULL", (gate, device)
            )
        if not decisions:
            return
        rows = [
            (
                device,
                e.seq,
                gate,
                e.checkpoint,
                at,
                e.plate,
                key,
                e.decision,
                _reasons(e.reasons),
                e.declaration,
                e.weight_kg,
                crop,
            )
            for e, crop, at, key in decisions
        ]
        if verify:
            conn.executemany(
                _INSERT_IF_STORED,
                [
                    (*row, device, d.event.seq, d.event.id)
                    for row, d in zip(rows, decisions, strict=True)
                ],
            )
        else:
            conn.executemany(_INSERT, rows)
        # each lane that decided has moved on from the truck it held before (a hold that
        # arrives after a later decision, filling a gap, has moved on at once)
        lanes: dict[str, int] = {}
        for d in decisions:
            lanes[d.event.checkpoint] = max(lanes.get(d.event.checkpoint, 0), d.event.seq)
        conn.executemany(_MOVED_ON, [(device, cp, seq) for cp, seq in lanes.items()])
        conn.executemany(
            _MOVED_ON_LATE,
            [(device, d.event.seq) for d in decisions if d.event.decision == "hold"],
        )

    @staticmethod
    def settle_overrides(
        conn: sqlite3.Connection, device: str, contiguous: int, batch: Sequence[Event]
    ) -> None:
        """Apply the device's overrides up to its contiguous seq that are not applied yet."""
        row = conn.execute(
            "SELECT overrides_upto FROM crossing_progress WHERE device = ?", (device,)
        ).fetchone()
        upto = int(row[0]) if row else 0
        if contiguous <= upto:
            return
        overrides: list[tuple[int, str, str, str, str]] = []
        in_batch = {e.seq: e for e in batch}
        if contiguous - upto <= len(in_batch) and all(
            s in in_batch for s in range(upto + 1, contiguous + 1)
        ):  # the common case: this batch is the whole stretch
            overrides = [
                (e.seq, e.checkpoint, _iso(e.at), e.by, e.reason)
                for s in range(upto + 1, contiguous + 1)
                if isinstance(e := in_batch[s], ManualOverride)
            ]
        else:  # a gap filled, or a conflict resolved: what this stretch holds
            for seq, cp, at, body in conn.execute(
                "SELECT seq, checkpoint, at, body FROM events WHERE device = ? AND seq > ?"
                " AND seq <= ? AND kind = 'manual_override' ORDER BY seq",
                (device, upto, contiguous),
            ).fetchall():
                item = json.loads(body)
                overrides.append((int(seq), cp, at, item["by"], item["reason"]))
        for seq, cp, at, by, reason in overrides:
            conn.execute(_OVERRIDE, (by, reason, at, seq, device, seq, cp))
        conn.execute(
            "INSERT INTO crossing_progress(device, overrides_upto) VALUES (?, ?)"
            " ON CONFLICT(device) DO UPDATE SET overrides_upto = excluded.overrides_upto",
            (device, contiguous),
        )

    @staticmethod
    def event_replaced(conn: sqlite3.Connection, device: str, seq: int) -> None:
        """The event at ``device``/``seq`` was replaced (a seq conflict resolved for the
        incoming one): its crossing follows, and an override there is taken again."""
        conn.execute("DELETE FROM crossings WHERE device = ? AND seq = ?", (device, seq))
        row = conn.execute(
            "SELECT e.kind, e.body, d.gate, p.overrides_upto FROM events e"
            " LEFT JOIN devices d ON d.device = e.device"
            " LEFT JOIN crossing_progress p ON p.device = e.device"
            " WHERE e.device = ? AND e.seq = ?",
            (device, seq),
        ).fetchone()
        if row is None:
            return
        kind, body, gate, upto = row
        item = json.loads(body)
        if kind == "lane_decision":
            decision = msgspec.convert(
                {k: v for k, v in item.items() if k != "crop"}, LaneDecision, strict=False
            )
            stored = Decided(decision, item.get("crop"), _iso(decision.at), _key(decision.plate))
            CrossingStore.record(conn, device, gate, [stored], verify=False)
        if kind == "manual_override" and upto is not None and seq <= upto:
            at = _iso(datetime.fromisoformat(item["at"]))
            conn.execute(
                _OVERRIDE, (item["by"], item["reason"], at, seq, device, seq, item["checkpoint"])
            )

    # -- read by the API, on the read pool -------------------------------------------------------

    def list(
        self,
        *,
        decision: Literal["open", "hold"] | None = None,
        held: bool | None = None,
        at_lane: bool = False,
        gate: str | None = None,
        checkpoint: str | None = None,
        device: str | None = None,
        plate: str | None = None,
        declaration: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before: int | None = None,
        limit: int = 100,
        budget: ReadBudget | None = None,
    ) -> tuple[list[Crossing], int | None]:
        """Newest first (by the decision's time; one device's in its seq order). ``held``:
        held now (a hold nobody has overridden). ``plate`` in any spelling (its key). Returns
        the page and the ``before`` of the next page (None on the last). ``at_lane``: held
        and its lane has not decided since (the truck is still there)."""
        where = KeysetWhere("crossings", "id")
        # the leading filter, most selective first: its index also orders the rows by time
        if plate:
            key = _key(plate)
            where.add("plate", "plate_key = ?", "+plate_key = ?", key)
        if declaration:
            where.add("declaration", "declaration = ?", "+declaration = ?", declaration)
        if device:
            where.add("device", "device = ?", "+device = ?", device)
        if at_lane:  # held, and the truck still at its lane
            where.add(
                "at_lane",
                "decision = 'hold' AND overridden_at IS NULL AND moved_on IS NULL",
                "+decision = 'hold' AND +overridden_at IS NULL AND +moved_on IS NULL",
            )
        if held is True:
            where.add(
                "held",
                "decision = 'hold' AND overridden_at IS NULL",
                "+decision = 'hold' AND +overridden_at IS NULL",
            )
        elif held is False:
            where.plain("(+decision = 'open' OR +overridden_at IS NOT NULL)")
        if decision == "hold":
            where.add("hold", "decision = 'hold'", "+decision = 'hold'")
        elif decision == "open":
            where.plain("+decision = 'open'")  # most crossings: walking the time index is best
        if gate:
            where.add("gate", "gate = ?", "+gate = ?", gate)
        if checkpoint:
            where.plain("+checkpoint = ?", checkpoint)
        where.time_range(since, until)
        where.keyset(before)
        rows = self.reads.all(
            f"SELECT {_COLUMNS} FROM crossings {where.sql()}",
            (*where.params, limit + 1),
            budget,
        )
        items = [_crossing(r) for r in rows[:limit]]
        return items, (items[-1].id if len(rows) > limit else None)

    def get(self, crossing_id: int, budget: ReadBudget | None = None) -> Crossing | None:
        row = self.reads.one(
            f"SELECT {_COLUMNS} FROM crossings WHERE id = ?", (crossing_id,), budget
        )
        return _crossing(row) if row else None

    def crop(self, digest: str, budget: ReadBudget | None = None) -> bytes | None:
        """A crop's JPEG by its SHA-256 (lowercase hex), or None."""
        if not CROP_HASH.match(digest):
            return None
        row = self.reads.one("SELECT jpeg FROM crops WHERE hash = ?", (digest,), budget)
        return bytes(row[0]) if row else None

    # -- what the staff UI shows beside a page of crossings (one statement per page) ---------

    def plate_confidences(
        self, crossings: Sequence[Crossing], budget: ReadBudget | None = None
    ) -> dict[int, float]:
        """Each crossing's reading confidence: from the ``plate_read`` event that carried its
        crop (the latest before the decision at its device)."""
        with_crop = [c for c in crossings if c.crop]
        if not with_crop:
            return {}
        marks = ",".join("?" * len(with_crop))
        rows = self.reads.all(
            "SELECT c.id, (SELECT json_extract(e.body, '$.confidence') FROM events e"
            " WHERE e.device = c.device AND e.seq < c.seq AND e.seq >= c.seq - 50"
            " AND e.kind = 'plate_read' AND json_extract(e.body, '$.crop') = c.crop"
            f" ORDER BY e.seq DESC LIMIT 1) FROM crossings c WHERE c.id IN ({marks})",
            [c.id for c in with_crop],
            budget,
        )
        return {int(cid): float(conf) for cid, conf in rows if conf is not None}

    def barrier_opened(
        self, crossings: Sequence[Crossing], budget: ReadBudget | None = None
    ) -> dict[int, bool]:
        """For crossings that opened (by rule or by hand): whether the box's barrier reported
        the open confirmed by its limit switch (the first ``barrier_actuated`` open after the
        decision, or after the override)."""
        opened = [c for c in crossings if c.decision == "open" or c.overridden_at]
        if not opened:
            return {}
        marks = ",".join("?" * len(opened))
        rows = self.reads.all(
            "SELECT c.id, (SELECT json_extract(e.body, '$.confirmed') FROM events e"
            " WHERE e.device = c.device AND e.seq > coalesce(c.override_seq, c.seq)"
            " AND e.seq <= coalesce(c.override_seq, c.seq) + 50"
            " AND e.kind = 'barrier_actuated' AND e.checkpoint = c.checkpoint"
            " AND json_extract(e.body, '$.action') = 'open' ORDER BY e.seq LIMIT 1)"
            f" FROM crossings c WHERE c.id IN ({marks})",
            [c.id for c in opened],
            budget,
        )
        return {int(cid): bool(confirmed) for cid, confirmed in rows if confirmed is not None}

    def per_hour(
        self, gate: str | None, since: datetime, until: datetime, budget: ReadBudget | None = None
    ) -> builtins.list[tuple[str, str, bool, int]]:
        """Decisions per UTC hour in [since, until): (hour ``YYYY-MM-DDTHH``, decision,
        overridden, count), at one gate or all."""
        where = "gate = ? AND at >= ? AND at < ?" if gate else "at >= ? AND at < ?"
        params = (gate, _iso(since), _iso(until)) if gate else (_iso(since), _iso(until))
        rows = self.reads.all(
            f"SELECT substr(at, 1, 13), decision, overridden_at IS NOT NULL, count(*)"
            f" FROM crossings WHERE {where} GROUP BY 1, 2, 3",
            params,
            budget,
        )
        return [(str(h), str(d), bool(o), int(n)) for h, d, o, n in rows]
