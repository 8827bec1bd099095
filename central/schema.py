"""Central's SQLite schema, by version. ``CentralStore`` opens the file with these migrations.

Version 1 is release 0.1.0's schema; a file that release wrote (user_version 0) upgrades in
place. Append a migration for every change; never edit one that has shipped.
"""

from __future__ import annotations

from central.crossings import move_inline_crops
from central.evidence_store import SCHEMA as EVIDENCE_SCHEMA
from central.identities import SCHEMA as IDENTITY_SCHEMA
from protocol.sqlite_file import FileKind, Migration

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

#: Accounts, sessions, API tokens, failed logins (``AccountStore``); the audit trail, which no
#: statement may change or delete (``AuditLog``; triggers refuse it); every version of every
#: declaration (``CentralStore``).
_V3 = (
    """CREATE TABLE users (
        username TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        tax_code TEXT,
        display_name TEXT,
        password_hash TEXT NOT NULL,
        language TEXT NOT NULL DEFAULT 'vi',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        disabled_at TEXT
    )""",
    """CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL REFERENCES users(username),
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        client TEXT
    )""",
    "CREATE INDEX sessions_user ON sessions(username)",
    """CREATE TABLE api_tokens (
        name TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        tax_code TEXT,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        revoked_at TEXT,
        last_used_at TEXT
    )""",
    """CREATE TABLE login_failures (
        key TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
    "CREATE INDEX login_failures_key ON login_failures(key, at)",
    """CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        action TEXT NOT NULL,
        object TEXT NOT NULL,
        before TEXT,
        after TEXT,
        client TEXT
    )""",
    "CREATE INDEX audit_object ON audit(object, id)",
    "CREATE INDEX audit_actor ON audit(actor, id)",
    "CREATE INDEX audit_at ON audit(at)",
    """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    """CREATE TABLE declaration_versions (
        number TEXT NOT NULL,
        version INTEGER NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (number, version)
    )""",
    """INSERT INTO declaration_versions(number, version, at, actor, action, body)
        SELECT number, 1, updated_at, 'release-0.1.0', 'imported', body FROM declarations""",
    "ALTER TABLE declarations ADD COLUMN enterprise TEXT",
    """UPDATE declarations SET enterprise = json_extract(body, '$.enterprise')""",
    "CREATE INDEX declarations_enterprise ON declarations(enterprise, cursor)",
    "CREATE INDEX declarations_status ON declarations(status, cursor)",
)

#: Crossings as rows of their own (``CrossingStore``): one per lane decision, with the override
#: that opened a held one, indexed for what staff ask (held now, by gate and time, by plate, by
#: declaration, by device); plate crops stored once by SHA-256 (``crops``), the events naming
#: them by hash; event lists by time under every filter. Backfilled from the events held.
_V4 = (
    """CREATE TABLE crops (
        hash TEXT PRIMARY KEY,
        jpeg BLOB NOT NULL,
        bytes INTEGER NOT NULL,
        first_seen TEXT NOT NULL
    )""",
    """CREATE TABLE crossings (
        id INTEGER PRIMARY KEY,
        device TEXT NOT NULL,
        seq INTEGER NOT NULL,
        gate TEXT,
        checkpoint TEXT NOT NULL,
        at TEXT NOT NULL,
        plate TEXT,
        plate_key TEXT,
        decision TEXT NOT NULL,
        reasons TEXT NOT NULL,
        declaration TEXT,
        weight_kg REAL,
        crop TEXT,
        overridden_by TEXT,
        override_reason TEXT,
        overridden_at TEXT,
        override_seq INTEGER,
        UNIQUE (device, seq)
    )""",
    "CREATE INDEX crossings_at ON crossings(at)",
    "CREATE INDEX crossings_gate ON crossings(gate, at)",
    "CREATE INDEX crossings_plate ON crossings(plate_key, at)",
    "CREATE INDEX crossings_declaration ON crossings(declaration, at)"
    " WHERE declaration IS NOT NULL",
    "CREATE INDEX crossings_hold ON crossings(at) WHERE decision = 'hold'",
    "CREATE INDEX crossings_held ON crossings(at)"
    " WHERE decision = 'hold' AND overridden_at IS NULL",
    "CREATE INDEX crossings_no_gate ON crossings(device) WHERE gate IS NULL",
    """CREATE TABLE crossing_progress (
        device TEXT PRIMARY KEY,
        overrides_upto INTEGER NOT NULL
    )""",
    "DROP INDEX IF EXISTS events_plate",
    "CREATE INDEX events_plate_at ON events(plate_key, at)",
    "CREATE INDEX events_at ON events(at)",
    move_inline_crops,
    """INSERT INTO crossings(device, seq, gate, checkpoint, at, plate, plate_key, decision,
            reasons, declaration, weight_kg, crop)
        SELECT e.device, e.seq, d.gate, e.checkpoint, e.at, json_extract(e.body, '$.plate'),
            e.plate_key, json_extract(e.body, '$.decision'),
            coalesce(json_extract(e.body, '$.reasons'), '[]'),
            json_extract(e.body, '$.declaration'), json_extract(e.body, '$.weight_kg'),
            json_extract(e.body, '$.crop')
        FROM events e LEFT JOIN devices d ON d.device = e.device
        WHERE e.kind = 'lane_decision' ORDER BY e.rowid""",
    # an override opens the decision it followed (the latest crossing at its device and
    # checkpoint before it) if that was a hold; those past the device's ack wait for the gap
    """UPDATE crossings SET overridden_by = o.who, override_reason = o.why,
            overridden_at = o.at, override_seq = o.seq
        FROM (SELECT e.seq, e.at, json_extract(e.body, '$.by') AS who,
                json_extract(e.body, '$.reason') AS why,
                (SELECT c.id FROM crossings c WHERE c.device = e.device AND c.seq < e.seq
                    AND c.checkpoint = e.checkpoint ORDER BY c.seq DESC LIMIT 1) AS target
            FROM events e JOIN devices d ON d.device = e.device
            WHERE e.kind = 'manual_override' AND e.seq <= d.acked_seq) AS o
        WHERE crossings.id = o.target AND crossings.decision = 'hold'
            AND crossings.overridden_at IS NULL""",
    """INSERT INTO crossing_progress(device, overrides_upto)
        SELECT device, acked_seq FROM devices""",
)

#: Enrolment tokens and enrolled boxes' identities (``IdentityStore``, central/identities.py).
_V5 = IDENTITY_SCHEMA

#: What enrolled boxes signed, kept as signed (``EvidenceStore``, central/evidence_store.py).
_V6 = EVIDENCE_SCHEMA

#: A held crossing whose lane has decided again (the truck left, or came back and was decided
#: anew) has moved on: ``moved_on`` is the seq of that later decision. The staff console shows
#: the holds that have not, from their own partial index.
_V7 = (
    "ALTER TABLE crossings ADD COLUMN moved_on INTEGER",
    """UPDATE crossings SET moved_on = (SELECT min(l.seq) FROM crossings l
            WHERE l.device = crossings.device AND l.seq > crossings.seq
            AND l.checkpoint = crossings.checkpoint)
        WHERE decision = 'hold' AND overridden_at IS NULL""",
    "CREATE INDEX crossings_at_lane ON crossings(at)"
    " WHERE decision = 'hold' AND overridden_at IS NULL AND moved_on IS NULL",
    # the staff pages' reads: recent commands, today's declarations
    "CREATE INDEX audit_action ON audit(action, at)",
    "CREATE INDEX declarations_created ON declarations(created_at)",
    "CREATE INDEX declarations_exited ON declarations(updated_at) WHERE status = 'exited'",
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7)

#: Central's database ("CKCT"); a gate box's store carries another id.
KIND = FileKind(0x434B4354, "events", "central's database")
