"""Commands from an operator at the box itself (no central needed): a queue in the box's store.

``cuakhau agent operator --action open ...`` writes a row; the lane takes it on its next poll,
acts if the command fits its state (open: held; reset_fault: fault) and writes the outcome back.
The opening itself is recorded as a ``manual_override`` event like one from central.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from typing import Literal

SCHEMA = """CREATE TABLE IF NOT EXISTS operator_commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT, checkpoint TEXT NOT NULL, action TEXT NOT NULL,
    by TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL, taken_at TEXT, outcome TEXT)"""

Action = Literal["open", "reset_fault"]


def submit(conn: sqlite3.Connection, checkpoint: str, action: Action, by: str, reason: str) -> int:
    conn.execute(SCHEMA)
    cur = conn.execute(
        "INSERT INTO operator_commands(checkpoint, action, by, reason, at) VALUES (?, ?, ?, ?, ?)",
        (checkpoint, action, by, reason, datetime.now(UTC).isoformat()),
    )
    conn.commit()
    return int(cur.lastrowid or 0)


def wait_outcome(conn: sqlite3.Connection, command_id: int, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT outcome FROM operator_commands WHERE id = ? AND taken_at IS NOT NULL",
            (command_id,),
        ).fetchone()
        if row:
            return str(row[0])
        time.sleep(0.1)
    return None
