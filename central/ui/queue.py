"""An agency's queue: the accepted declarations waiting for one of its steps (trucks already
in the yard first), each with confirm and return. One read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from central.accounts import Principal
from central.lifecycle import awaiting
from central.roles import Role
from central.store import CentralStore
from central.ui.i18n import N_
from central.ui.pages import QUEUE_USERS, Ui
from central.web.auth import roles
from protocol.messages import Declaration

QUEUE_LIMIT = 500


@dataclass(frozen=True)
class Waiting:
    declaration: Declaration
    #: this role's steps still to confirm, in procedure order
    steps: list[str]
    in_yard: bool


def waiting_for(store: CentralStore, role: Role) -> list[Waiting]:
    out = []
    for declaration in store.declarations_in_status("accepted", limit=QUEUE_LIMIT):
        mine = awaiting(declaration, role)
        if mine:
            flag = declaration.steps.get("in_yard")
            out.append(Waiting(declaration, mine, bool(flag and flag.done)))
    out.sort(key=lambda w: not w.in_yard)  # stable: oldest change first within each group
    return out


@get("/ui/queue", sync_to_thread=True, opt=roles(QUEUE_USERS), include_in_schema=False)
def queue_page(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    ui: NamedDependency[Ui],
    principal: NamedDependency[Principal],
) -> Template:
    return ui.page(
        request, principal, "queue.html", N_("My queue"), waiting=waiting_for(store, principal.role)
    )


ROUTES = [queue_page]
