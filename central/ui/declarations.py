"""Declarations: search (number, plate in any spelling, enterprise, status, day) and one
declaration's page with its steps and its history. An enterprise sees only its own."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from central.accounts import Principal
from central.lifecycle import awaiting, required_steps
from central.roles import DECLARATION_READERS, STAFF
from central.store import CentralStore
from central.ui.held import abilities
from central.ui.i18n import N_
from central.ui.pages import StatusChoice, Ui
from central.web.auth import roles
from central.web.declarations import visible

PAGE = 50
Text64 = Annotated[str, msgspec.Meta(max_length=64)]


@get(
    "/ui/declarations", sync_to_thread=True, opt=roles(DECLARATION_READERS), include_in_schema=False
)
def declarations_page(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    ui: NamedDependency[Ui],
    principal: NamedDependency[Principal],
    number: Annotated[Text64, QueryParameter(name="number")] = "",
    plate: Annotated[Text64, QueryParameter(name="plate")] = "",
    enterprise: Annotated[Text64, QueryParameter(name="enterprise")] = "",
    status_choice: StatusChoice = "",
    day: Annotated[str, QueryParameter(name="day", pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = "",
    page: Annotated[int, QueryParameter(name="page", ge=1, le=10_000)] = 1,
) -> Template:
    status = status_choice or None
    if principal.role == "enterprise":
        enterprise = principal.tax_code or "-"
    number = number.strip()
    if number:
        try:
            found = [visible(store, principal, number)]
        except NotFoundException:
            found = []
        total = len(found)
    else:
        found, total = store.list_declarations(
            plate=plate.strip() or None,
            status=status,
            enterprise=enterprise.strip() or None,
            day=day.replace("-", "") or None,
            limit=PAGE,
            offset=(page - 1) * PAGE,
        )
    return ui.page(
        request,
        principal,
        "declarations.html",
        N_("Declarations"),
        items=found,
        total=total,
        page=page,
        pages=max(1, (total + PAGE - 1) // PAGE),
        query={
            "number": number,
            "plate": plate,
            "enterprise": enterprise,
            "status": status or "",
            "day": day,
        },
    )


@get(
    "/ui/declarations/{number:str}",
    sync_to_thread=True,
    opt=roles(DECLARATION_READERS),
    include_in_schema=False,
)
def declaration_page(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    ui: NamedDependency[Ui],
    principal: NamedDependency[Principal],
    number: FromPath[str],
) -> Template:
    declaration = visible(store, principal, number)
    # its crossings are the staff's (an enterprise sees its declaration, not the gate's records)
    crossings = (
        store.crossings.list(declaration=number, limit=20)[0] if principal.role in STAFF else []
    )
    return ui.page(
        request,
        principal,
        "declaration.html",
        N_("Declaration"),
        d=declaration,
        steps=required_steps(declaration),
        mine=awaiting(declaration, principal.role),
        history=store.declaration_history(number),
        crossings=crossings,
        **abilities(principal.role),
    )


ROUTES = [declarations_page, declaration_page]
