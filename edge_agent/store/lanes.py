"""What the box's lanes keep in its store: each lane's state, yard occupancy, the queue of
commands from an operator at the box (``cuakhau agent operator``), and central's commands
already taken.

The lane machine writes its state in the same transaction as the events it emits: it calls
these methods inside ``EdgeStore.transaction()``, whose transaction they join.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from protocol.sqlite_file import SqliteFile


@dataclass(frozen=True)
class LaneRow:
    state: str
    plate: str | None
    since: str
    detail: str | None


@dataclass(frozen=True)
class OperatorCommand:
    id: int
    action: str
    by: str
    reason: str
    at: datetime


class LaneStore:
    def __init__(self, file: SqliteFile) -> None:
        self.file = file

    # -- lane state ------------------------------------------------------------------------

    def states(self) -> dict[str, str]:
        """Every lane's state by checkpoint (what the box reports to central)."""
        return {cp: st for cp, st in self.file.all("SELECT checkpoint, state FROM lane_state")}

    def state(self, checkpoint: str) -> LaneRow | None:
        row = self.file.one(
            "SELECT state, plate, since, detail FROM lane_state WHERE checkpoint = ?",
            (checkpoint,),
        )
        return LaneRow(*row) if row else None

    def set_state(
        self, checkpoint: str, state: str, plate: str | None, since: datetime, detail: str
    ) -> None:
        with self.file.transaction() as conn:
            conn.execute(
                # a lane that stays in its state (a fault noted while held) keeps its truck
                # and the moment it entered the state
                "INSERT INTO lane_state(checkpoint, state, plate, since, detail) VALUES"
                " (?, ?, ?, ?, ?) ON CONFLICT(checkpoint) DO UPDATE SET state = excluded.state,"
                " plate = CASE WHEN lane_state.state = excluded.state AND excluded.plate IS NULL"
                " THEN lane_state.plate ELSE excluded.plate END,"
                " since = CASE WHEN lane_state.state = excluded.state THEN lane_state.since"
                " ELSE excluded.since END, detail = excluded.detail",
                (checkpoint, state, plate, since.isoformat(), detail),
            )

    # -- yards -------------------------------------------------------------------------------

    def yard_count(self, yard: str) -> int:
        return int(self.file.one("SELECT count(*) FROM yard_occupancy WHERE yard = ?", (yard,))[0])

    def yard_enter(self, yard: str, plate_key: str, at: datetime) -> None:
        with self.file.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO yard_occupancy(yard, plate_key, entered_at)"
                " VALUES (?, ?, ?)",
                (yard, plate_key, at.isoformat()),
            )

    def yard_leave(self, yard: str, plate_key: str) -> None:
        with self.file.transaction() as conn:
            conn.execute(
                "DELETE FROM yard_occupancy WHERE yard = ? AND plate_key = ?", (yard, plate_key)
            )

    # -- central's commands ----------------------------------------------------------------

    def take_command(self, command_id: str, keep_days: float = 7) -> bool:
        """True the first time a command id is seen; False for a repeat (redelivered or
        replayed), which must not act twice."""
        now = datetime.now(UTC)
        with self.file.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO commands_taken(id, at) VALUES (?, ?)",
                (command_id, now.isoformat()),
            )
            conn.execute(
                "DELETE FROM commands_taken WHERE at < ?",
                ((now - timedelta(days=keep_days)).isoformat(),),
            )
            return cur.rowcount == 1

    # -- the local operator's commands -------------------------------------------------------

    def submit_command(self, checkpoint: str, action: str, by: str, reason: str) -> int:
        with self.file.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO operator_commands(checkpoint, action, by, reason, at)"
                " VALUES (?, ?, ?, ?, ?)",
                (checkpoint, action, by, reason, datetime.now(UTC).isoformat()),
            )
            return int(cur.lastrowid or 0)

    def next_command(self, checkpoint: str) -> OperatorCommand | None:
        row = self.file.one(
            "SELECT id, action, by, reason, at FROM operator_commands WHERE checkpoint = ?"
            " AND taken_at IS NULL ORDER BY id LIMIT 1",
            (checkpoint,),
        )
        if row is None:
            return None
        command_id, action, by, reason, at = row
        return OperatorCommand(int(command_id), action, by, reason, datetime.fromisoformat(at))

    def command_taken(self, command_id: int, outcome: str) -> None:
        with self.file.transaction() as conn:
            conn.execute(
                "UPDATE operator_commands SET taken_at = ?, outcome = ? WHERE id = ?",
                (datetime.now(UTC).isoformat(), outcome, command_id),
            )

    def command_outcome(self, command_id: int) -> str | None:
        row = self.file.one(
            "SELECT outcome FROM operator_commands WHERE id = ? AND taken_at IS NOT NULL",
            (command_id,),
        )
        return str(row[0]) if row else None
