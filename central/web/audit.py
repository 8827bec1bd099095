"""The audit trail over HTTP: query it, or export it as CSV. Nothing here (or anywhere) edits
or deletes a row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from central.roles import AUDITORS
from central.store import CentralStore
from central.web.auth import roles
from central.web.events import Limit, MaybeRowId

Text64 = Annotated[str | None, QueryParameter(max_length=128)]
Object = Annotated[str | None, QueryParameter(name="object", max_length=128)]


@get("/api/audit", tags=["operations"], sync_to_thread=True, opt=roles(AUDITORS))
def query_audit(
    store: NamedDependency[CentralStore],
    actor: Text64 = None,
    action: Text64 = None,
    object_: Object = None,
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
    before: MaybeRowId = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    """Who did what to which object, newest first; ``before`` = the last ``id`` for more."""
    return store.audit.query(
        actor=actor,
        action=action,
        obj=object_,
        since=since,
        until=until,
        before=before,
        limit=limit,
    )


@get("/api/audit.csv", tags=["operations"], sync_to_thread=False, opt=roles(AUDITORS))
def export_audit(
    store: NamedDependency[CentralStore],
    actor: Text64 = None,
    action: Text64 = None,
    object_: Object = None,
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
) -> Stream:
    """The matching rows as CSV, oldest first (at most 100,000 rows per export)."""
    lines: Iterator[str] = store.audit.csv_lines(
        actor=actor, action=action, obj=object_, since=since, until=until
    )
    return Stream(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cuakhau-audit.csv"'},
    )


ROUTES = [query_audit, export_audit]
