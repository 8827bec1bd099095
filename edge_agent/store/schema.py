"""The gate box's SQLite schema, by version: one file holds every table of the box's stores.

Version 1 is release 0.1.0's schema; a file that release wrote (user_version 0) upgrades in
place. Append a migration for every change; never edit one that has shipped. Which store owns
which table: ``EdgeStore`` (outbox, meta, chain), ``DeclarationCache`` (declarations*,
declaration_sync, declaration_rebuild), ``LaneStore`` (lane_state, yard_occupancy,
operator_commands, commands_taken).
"""

from __future__ import annotations

from protocol.sqlite_file import FileKind, Migration

_V1 = (
    """CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        at TEXT NOT NULL,
        body BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    )""",
    "INSERT OR IGNORE INTO meta(key, value) VALUES ('last_seq', 0), ('acked_seq', 0)",
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
    """CREATE TABLE IF NOT EXISTS lane_state (
        checkpoint TEXT PRIMARY KEY, state TEXT NOT NULL, plate TEXT, since TEXT NOT NULL,
        detail TEXT)""",
    """CREATE TABLE IF NOT EXISTS yard_occupancy (
        yard TEXT NOT NULL, plate_key TEXT NOT NULL, entered_at TEXT NOT NULL,
        PRIMARY KEY (yard, plate_key))""",
    """CREATE TABLE IF NOT EXISTS operator_commands (
        id INTEGER PRIMARY KEY AUTOINCREMENT, checkpoint TEXT NOT NULL, action TEXT NOT NULL,
        by TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL, taken_at TEXT, outcome TEXT)""",
)

#: A rebuild of a gate's cache (``resync``, or central's ``reset``) fills a staging table
#: beside the live one and swaps only when central's answer is complete.
_V2 = (
    """CREATE TABLE declarations_staging (
        number TEXT PRIMARY KEY,
        gate TEXT NOT NULL,
        plate_key TEXT NOT NULL,
        status TEXT NOT NULL,
        cursor INTEGER NOT NULL,
        body BLOB NOT NULL
    )""",
    """CREATE TABLE declaration_rebuild (
        gate TEXT PRIMARY KEY,
        cursor INTEGER NOT NULL,
        -- the live cursor when the rebuild began: the live cache moving past it meanwhile
        -- means changes central's answer may not hold
        live_at_start INTEGER NOT NULL,
        started_at TEXT NOT NULL
    )""",
)

#: The head of the box's hash chain: every event carries the SHA-256 of the one before it.
_V3 = (
    """CREATE TABLE chain (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash BLOB NOT NULL
    )""",
    # central's commands already taken: a repeated one (redelivered, replayed) is refused
    """CREATE TABLE commands_taken (
        id TEXT PRIMARY KEY,
        at TEXT NOT NULL
    )""",
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _V3)

#: A gate box's store ("CKBX"); central's files carry another id.
KIND = FileKind(0x434B4258, "outbox", "a gate box's store")
