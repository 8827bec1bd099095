"""The audit trail: filter by who, action, object and time; page through it; export the same
filter as CSV (``/api/audit.csv``). Admins and viewers only."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import QueryParameter
from litestar.response import Template

from central.accounts import Principal
from central.roles import AUDITORS
from central.store import CentralStore
from central.ui.i18n import N_
from central.ui.pages import Ui
from central.web.auth import roles

PAGE = 100
Text128 = Annotated[str, msgspec.Meta(max_length=128)]


@get("/ui/audit", sync_to_thread=True, opt=roles(AUDITORS), include_in_schema=False)
def audit_page(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    ui: NamedDependency[Ui],
    principal: NamedDependency[Principal],
    actor: Annotated[Text128, QueryParameter(name="actor")] = "",
    action: Annotated[Text128, QueryParameter(name="action")] = "",
    obj: Annotated[Text128, QueryParameter(name="object")] = "",
    since: Annotated[str, QueryParameter(name="since", pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = "",
    until: Annotated[str, QueryParameter(name="until", pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = "",
    before: Annotated[int | None, QueryParameter(name="before", ge=0)] = None,
) -> Template:
    zone = ui.clock.zone
    try:
        start = datetime.combine(datetime.fromisoformat(since), time(), zone) if since else None
        end = datetime.combine(datetime.fromisoformat(until), time.max, zone) if until else None
    except ValueError:
        raise ClientException(f"no such day: {since or until}") from None
    rows = store.audit.query(
        actor=actor.strip() or None,
        action=action.strip() or None,
        obj=obj.strip() or None,
        since=start,
        until=end,
        before=before,
        limit=PAGE,
    )
    query = {"actor": actor, "action": action, "object": obj}
    csv = {k: v for k, v in query.items() if v}
    if start:
        csv["since"] = start.isoformat()
    if end:
        csv["until"] = end.isoformat()
    return ui.page(
        request,
        principal,
        "audit.html",
        N_("Audit"),
        rows=rows,
        query={**query, "since": since, "until": until},
        more=rows[-1]["id"] if len(rows) == PAGE else None,
        export="/api/audit.csv" + (f"?{urlencode(csv)}" if csv else ""),
    )


ROUTES = [audit_page]
