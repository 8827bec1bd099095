"""What an enrolled box signed, kept as it was signed: each sealed batch's seal and seq range,
and each event's exact encoding. Owns the tables ``sealed_batches`` and ``sealed_events``.

From these a crossing's evidence is exported (``export``) and checked offline against the
box's public key alone (``protocol/evidence.py``, ``cuakhau verify crossing``).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import msgspec

from protocol.evidence import Evidence, EvidenceEvent, SealedBatch
from protocol.signing import public_text
from protocol.sqlite_file import SqliteFile

SCHEMA = (
    """CREATE TABLE sealed_batches (
        device TEXT NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        seal BLOB NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (device, first_seq, last_seq)
    )""",
    "CREATE INDEX sealed_batches_last ON sealed_batches(device, last_seq)",
    """CREATE TABLE sealed_events (
        device TEXT NOT NULL,
        seq INTEGER NOT NULL,
        raw BLOB NOT NULL,
        PRIMARY KEY (device, seq)
    ) WITHOUT ROWID""",
)

_raw_list = msgspec.msgpack.Decoder(list[msgspec.Raw])


class _Head(msgspec.Struct):
    seq: int


_head = msgspec.msgpack.Decoder(_Head)


class EvidenceStore:
    def __init__(self, file: SqliteFile) -> None:
        self.file = file

    def keep(self, device: str, array: bytes, seal: bytes) -> None:
        """Keep a verified batch: its seal over its seq range, and each event's encoding."""
        raws = [bytes(r) for r in _raw_list.decode(array)]
        seqs = [_head.decode(r).seq for r in raws]
        if not seqs or seqs != list(range(seqs[0], seqs[0] + len(seqs))):
            return  # not one run of seqs: cannot be rebuilt, so not kept as evidence
        with self.file.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO sealed_batches(device, first_seq, last_seq, seal,"
                " received_at) VALUES (?, ?, ?, ?, ?)",
                (device, seqs[0], seqs[-1], seal, datetime.now(UTC).isoformat()),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO sealed_events(device, seq, raw) VALUES (?, ?, ?)",
                [(device, s, r) for s, r in zip(seqs, raws, strict=True)],
            )

    def raw(self, device: str, seq: int) -> bytes | None:
        """The exact bytes a box signed for one event (None: not kept)."""
        row = self.file.one(
            "SELECT raw FROM sealed_events WHERE device = ? AND seq = ?", (device, seq)
        )
        return bytes(row[0]) if row else None

    def export(
        self, crossing: dict[str, object], public_key: object, lookback: int = 5
    ) -> Evidence | None:
        """The evidence of one crossing: the sealed batches holding its event and the few
        before it (the same truck's presence, plate read, weight), with their events."""
        device = str(crossing["device"])
        seq = int(str(crossing["seq"]))
        batches = self.file.all(
            "SELECT first_seq, last_seq, seal FROM sealed_batches WHERE device = ?"
            " AND last_seq >= ? AND first_seq <= ? ORDER BY first_seq",
            (device, max(1, seq - lookback), seq),
        )
        if not batches:
            return None
        low = min(b[0] for b in batches)
        high = max(b[1] for b in batches)
        events = self.file.all(
            "SELECT seq, raw FROM sealed_events WHERE device = ? AND seq BETWEEN ? AND ?"
            " ORDER BY seq",
            (device, low, high),
        )
        return Evidence(
            crossing=crossing,
            device=device,
            public_key=public_text(public_key),  # type: ignore[arg-type]
            batches=[
                SealedBatch(first_seq=a, last_seq=b, seal=base64.b64encode(s).decode())
                for a, b, s in batches
            ],
            events=[
                EvidenceEvent(seq=s, raw=base64.b64encode(bytes(r)).decode()) for s, r in events
            ],
        )
