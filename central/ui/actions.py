"""What staff do from the pages: open a held lane by hand, confirm a missing step, return a
declaration. Each goes through the same checks, audit row and publication as its API route
(``central.web.devices.issue_command``, ``central.web.declarations``) and answers with a piece
of HTML that htmx puts in place of the form's result line. A refusal keeps its status code
(403, 404, 409, 422) and says why in the user's language."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Template

from central import lifecycle
from central.accounts import Principal
from central.ingest import CentralLink
from central.roles import ACCEPTORS, AGENCIES, CHECKPOINT_OPERATORS
from central.store import CentralStore
from central.ui.i18n import N_
from central.ui.pages import Ui
from central.web.auth import roles
from central.web.declarations import (
    StepConfirmation,
    change,
    confirm,
    return_declaration,
)
from central.web.devices import CommandRequest, issue_command
from central.web.events import RowId
from protocol.messages import StepName

Said = Annotated[str, msgspec.Meta(max_length=500)]


class ReasonForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Said = ""


class StepForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    note: Said = ""
    #: the customs check's outcome
    result: Literal["", "match", "mismatch"] = ""
    #: the fees' receipt or payment reference
    reference: Annotated[str, msgspec.Meta(max_length=32)] = ""


def _result(
    ui: Ui,
    principal: Principal,
    message: str,
    *,
    ok: bool = True,
    status: int = 200,
    **context: Any,
) -> Template:
    page = ui.fragment(principal, "_action_result.html", ok=ok, message=message, **context)
    page.status_code = status
    return page


@post(
    "/ui/held/{crossing_id:int}/open",
    sync_to_thread=True,
    status_code=200,
    opt=roles(CHECKPOINT_OPERATORS),
    include_in_schema=False,
)
def open_by_hand(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    link: NamedDependency[CentralLink | None],
    ui: NamedDependency[Ui],
    principal: NamedDependency[Principal],
    crossing_id: RowId,
    data: URLEncodedBody[ReasonForm],
) -> Template:
    """Send the held crossing's box an open for its checkpoint, with the reason."""
    crossing = store.crossings.get(crossing_id)
    if crossing is None:
        raise NotFoundException(f"no crossing {crossing_id}")
    if not crossing.held or crossing.moved_on is not None:
        # opened already, or its lane has decided again: the truck held now is another one
        return _result(ui, principal, N_("This truck is no longer held."), ok=False, status=409)
    if not data.reason.strip():
        return _result(ui, principal, N_("A manual open needs a reason."), ok=False, status=422)
    sent = issue_command(
        store,
        link,
        principal,
        request,
        crossing.device,
        CommandRequest(
            action="open",
            reason=data.reason.strip(),
            checkpoint=crossing.checkpoint,
            plate=crossing.plate,  # the box refuses the open if it holds another truck now
            held_at=crossing.at,
        ),
    )
    message = (
        N_("Open sent to the box: waiting for it to open the barrier.")
        if sent.published
        else N_("Central could not reach the broker: the open was not sent. Try again.")
    )
    return _result(ui, principal, message, ok=sent.published, command=sent.command)


@post(
    "/ui/declarations/{number:str}/steps/{step:str}",
    sync_to_thread=True,
    status_code=200,
    opt=roles(AGENCIES, {"enterprise"}),
    include_in_schema=False,
)
def confirm_step(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    link: NamedDependency[CentralLink | None],
    ui: NamedDependency[Ui],
    principal: NamedDependency[Principal],
    number: FromPath[str],
    step: FromPath[StepName],
    data: URLEncodedBody[StepForm],
) -> Template:
    """Confirm one of the declaration's steps (only the step's agency may; an enterprise
    registers its loading)."""
    confirmation = StepConfirmation(
        note=data.note.strip() or None,
        result=data.result or None,
        reference=data.reference.strip() or None,
    )
    confirm(store, link, principal, request, number, step, confirmation)
    return _result(ui, principal, N_("Step confirmed: the gate box is told at once."))


@post(
    "/ui/declarations/{number:str}/return",
    sync_to_thread=True,
    status_code=200,
    opt=roles(AGENCIES),
    include_in_schema=False,
)
def return_it(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    link: NamedDependency[CentralLink | None],
    ui: NamedDependency[Ui],
    principal: NamedDependency[Principal],
    number: FromPath[str],
    data: URLEncodedBody[ReasonForm],
) -> Template:
    """Return the declaration to its enterprise for re-declaration, with the reason."""
    if not data.reason.strip():
        return _result(
            ui, principal, N_("Say why the declaration is returned."), ok=False, status=422
        )
    return_declaration(store, link, principal, request, number, data.reason.strip())
    return _result(ui, principal, N_("Declaration returned to the enterprise."))


@post(
    "/ui/declarations/{number:str}/accept",
    sync_to_thread=True,
    status_code=200,
    opt=roles(ACCEPTORS),
    include_in_schema=False,
)
def accept_it(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    link: NamedDependency[CentralLink | None],
    ui: NamedDependency[Ui],
    principal: NamedDependency[Principal],
    number: FromPath[str],
) -> Template:
    """Accept a declared declaration: its steps can now be confirmed."""
    change(store, link, principal, request, number, "accept", lifecycle.accept)
    return _result(ui, principal, N_("Declaration accepted: its steps can now be confirmed."))


ROUTES = [open_by_hand, confirm_step, return_it, accept_it]
