"""Central's SQLite schema, by version. ``CentralStore`` opens the file with these migrations.

Version 1 is release 0.1.0's schema; a file that release wrote (user_version 0) upgrades in
place. Append a migration for every change; never edit one that has shipped.
"""

from __future__ import annotations

from protocol.sqlite_file import Migration

_V1 = (
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

#: Incidents: what needs a person (a seq sent twice with different events, an event that
#: failed validation, a declaration change no box can be sent). ``ref`` tells incidents of one
#: kind and subject apart (the incoming event id, the change cursor); ``detail`` is JSON.
_V2 = (
    """CREATE TABLE incidents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        device TEXT NOT NULL DEFAULT '',
        gate TEXT NOT NULL DEFAULT '',
        seq INTEGER NOT NULL DEFAULT 0,
        ref TEXT NOT NULL DEFAULT '',
        summary TEXT NOT NULL,
        detail TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        times INTEGER NOT NULL DEFAULT 1,
        resolved_at TEXT,
        resolved_by TEXT,
        resolution TEXT,
        note TEXT,
        UNIQUE (kind, device, gate, seq, ref)
    )""",
    "CREATE INDEX incidents_open ON incidents(device, kind, seq) WHERE resolved_at IS NULL",
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2)
