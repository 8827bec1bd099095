"""One truck at the gate: the crossing's timeline (its box's events around the decision, and
the truck's events at every checkpoint that day), the override with who and why, the
declaration with its steps, and the audit rows. Seven reads, whatever the truck did."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.response import Template

from central.accounts import Principal
from central.lifecycle import required_steps
from central.roles import STAFF
from central.store import CentralStore
from central.ui.held import abilities
from central.ui.i18n import N_
from central.ui.pages import Ui
from central.web.auth import roles
from central.web.events import RowId

#: How many of the box's events before the decision and after it (or its override).
AROUND = 12


@get(
    "/ui/crossings/{crossing_id:int}",
    sync_to_thread=True,
    opt=roles(STAFF),
    include_in_schema=False,
)
def crossing_page(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    ui: NamedDependency[Ui],
    principal: NamedDependency[Principal],
    crossing_id: RowId,
) -> Template:
    budget = store.read_budget()
    crossing = store.crossings.get(crossing_id, budget)
    if crossing is None:
        raise NotFoundException(f"no crossing {crossing_id}")
    last = crossing.seq + AROUND
    events = [
        e
        for e in store.events_between(crossing.device, crossing.seq - AROUND, last + AROUND, budget)
        if e.get("checkpoint") in (crossing.checkpoint, "")
    ]
    seen = {(e["device"], e["seq"]) for e in events}
    elsewhere: list[dict[str, Any]] = []
    if crossing.plate_key:
        day = timedelta(hours=12)
        found, _next = store.list_events(
            plate=crossing.plate_key,
            since=crossing.at - day,
            until=crossing.at + day,
            limit=100,
            budget=budget,
        )
        elsewhere = [e for e in found if (e["device"], e["seq"]) not in seen]
    declaration = (
        store.declarations_by_number([crossing.declaration], budget).get(crossing.declaration)
        if crossing.declaration
        else None
    )
    history = store.declaration_history(declaration.number) if declaration else []
    trail = store.audit.query(obj=f"device:{crossing.device}", since=crossing.at, limit=20)
    if declaration:
        trail += store.audit.query(obj=f"declaration:{declaration.number}", limit=50)
    trail.sort(key=lambda row: row["id"], reverse=True)
    confidence = store.crossings.plate_confidences([crossing], budget).get(crossing.id)
    return ui.page(
        request,
        principal,
        "crossing.html",
        N_("Crossing"),
        c=crossing,
        confidence=confidence,
        events=events,
        elsewhere=sorted(elsewhere, key=lambda e: e["at"]),
        declaration=declaration,
        steps=required_steps(declaration) if declaration else [],
        history=history,
        trail=trail,
        **abilities(principal.role),
    )


ROUTES = [crossing_page]
