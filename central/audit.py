"""The audit trail: one row per state-changing request or command (who, role, action, object,
before, after, time, client address). Owns the table ``audit``. Append-only: this module has no
update or delete, and triggers in the schema refuse both."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from central.accounts import Principal
from protocol.sqlite_file import ReadBudget, ReadPool, SqliteFile

COLUMNS = ("id", "at", "actor", "role", "action", "object", "before", "after", "client")


class AuditLog:
    def __init__(self, file: SqliteFile, reads: ReadPool | None = None) -> None:
        self.file = file
        #: read-only connections for the staff pages' frequent reads (never the writer's lock)
        self.reads = reads

    def recent(
        self, action: str, since: datetime, limit: int = 500, budget: ReadBudget | None = None
    ) -> list[dict[str, Any]]:
        """Rows of one action since ``since``, newest first (its own index; the read pool)."""
        sql = (
            f"SELECT {', '.join(COLUMNS)} FROM audit WHERE action = ? AND at >= ?"
            " ORDER BY at DESC LIMIT ?"
        )
        params = (action, since.astimezone(UTC).isoformat(), limit)
        rows = self.reads.all(sql, params, budget) if self.reads else self.file.all(sql, params)
        return [self._item(r) for r in rows]

    def record(
        self,
        who: Principal,
        action: str,
        obj: str,
        *,
        before: Any = None,
        after: Any = None,
        client: str | None = None,
    ) -> int:
        """Append a row (joining the caller's transaction when there is one)."""
        return self.record_as(
            who.actor, who.role, action, obj, before=before, after=after, client=client
        )

    def record_as(
        self,
        actor: str,
        role: str,
        action: str,
        obj: str,
        *,
        before: Any = None,
        after: Any = None,
        client: str | None = None,
    ) -> int:
        """A row for an actor that is no account (a box enrolling itself)."""
        with self.file.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO audit(at, actor, role, action, object, before, after, client)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    datetime.now(UTC).isoformat(),
                    actor,
                    role,
                    action,
                    obj,
                    None if before is None else json.dumps(before, ensure_ascii=False),
                    None if after is None else json.dumps(after, ensure_ascii=False),
                    client,
                ),
            )
            return int(cur.lastrowid or 0)

    def query(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        obj: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Rows newest first (pass the last row's ``id`` as ``before`` for the next page)."""
        where, params = self._where(actor, action, obj, since, until, before)
        rows = self.file.all(
            f"SELECT {', '.join(COLUMNS)} FROM audit {where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [self._item(r) for r in rows]

    def csv_lines(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        obj: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100_000,
    ) -> Iterator[str]:
        """The matching rows as CSV text, oldest first, in chunks of lines."""
        where, params = self._where(actor, action, obj, since, until, None)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        after_id = 0
        sent = 0
        while sent < limit:
            clause = f"{where} AND id > ?" if where else "WHERE id > ?"
            rows = self.file.all(
                f"SELECT {', '.join(COLUMNS)} FROM audit {clause} ORDER BY id LIMIT ?",
                (*params, after_id, min(1000, limit - sent)),
            )
            for row in rows:
                writer.writerow(["" if v is None else v for v in row])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(rows) < 1000:
                return
            after_id = int(rows[-1][0])
            sent += len(rows)

    @staticmethod
    def _where(
        actor: str | None,
        action: str | None,
        obj: str | None,
        since: datetime | None,
        until: datetime | None,
        before: int | None,
    ) -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("actor", actor), ("action", action), ("object", obj)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if since:
            where.append("at >= ?")
            params.append(since.astimezone(UTC).isoformat())
        if until:
            where.append("at < ?")
            params.append(until.astimezone(UTC).isoformat())
        if before is not None:
            where.append("id < ?")
            params.append(before)
        return (f"WHERE {' AND '.join(where)}" if where else ""), params

    @staticmethod
    def _item(row: Any) -> dict[str, Any]:
        item = dict(zip(COLUMNS, row, strict=True))
        for key in ("before", "after"):
            if item[key] is not None:
                item[key] = json.loads(item[key])
        return item
