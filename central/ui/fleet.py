"""The fleet: every gate box, online or offline, last seen, its outbox backlog and the age of
its oldest unacknowledged event, its lanes' states and reader, faults of the last day, and
open sync incidents. Two reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from central.accounts import Principal
from central.store import CentralStore
from central.ui.i18n import N_
from central.ui.pages import FLEET_VIEWERS, Ui
from central.web.auth import roles


def _age_s(at: Any, now: datetime) -> float | None:
    try:
        when = datetime.fromisoformat(str(at))
    except ValueError:
        return None
    return max(0.0, (now - when).total_seconds())


@get("/ui/fleet", sync_to_thread=True, opt=roles(FLEET_VIEWERS), include_in_schema=False)
def fleet_page(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    ui: NamedDependency[Ui],
    principal: NamedDependency[Principal],
) -> Template:
    now = datetime.now(UTC)
    faults = store.device_faults(now - timedelta(days=1))
    boxes = []
    for d in store.list_devices():
        state = d["state"] or {}
        boxes.append(
            {
                **d,
                "online": d["status"] == "online",
                "seen_ago_s": _age_s(d["last_seen"], now),
                "pending": state.get("outbox_pending"),
                "oldest_age_s": _age_s(state["oldest_pending_at"], now)
                if state.get("oldest_pending_at")
                else None,
                "lanes": state.get("lanes") or {},
                "reader": state.get("reader"),
                "software": state.get("software"),
                "faults": faults.get(d["device"], []),
            }
        )
    return ui.page(request, principal, "fleet.html", N_("Fleet"), boxes=boxes)


ROUTES = [fleet_page]
