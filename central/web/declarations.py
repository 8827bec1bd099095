"""Declarations over HTTP: the lifecycle of ``central/lifecycle.py`` with who may do what.

An enterprise sees and changes only its own declarations (another's number is 404, as if it
did not exist). Every change is one transaction with its audit row and its version, then goes
down the change stream to the gate's boxes (a barrier-out lane sees "fees paid" or "returned"
with no new code on the box).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery, QueryParameter, RequestBody
from litestar.status_codes import HTTP_201_CREATED

from central import lifecycle
from central.accounts import Principal
from central.ingest import CentralLink
from central.lifecycle import DeclarationInput, InputError, LifecycleError
from central.roles import ACCEPTORS, AGENCIES, DECLARANTS, DECLARATION_READERS
from central.store import CentralStore, InvalidDeclarationError
from central.web.auth import roles
from central.web.context import audit, publish
from central.web.errors import field_error
from protocol.messages import (
    MAX_INT,
    Declaration,
    DeclarationStatus,
    DocumentId,
    GateCode,
    StepName,
    Text,
)

Limit = Annotated[int, QueryParameter(ge=1, le=1000, description="page size")]


class DeclarationPage(msgspec.Struct):
    items: list[Declaration]
    total: int
    limit: int
    offset: int


class DeclarationSaved(msgspec.Struct):
    declaration: Declaration
    cursor: int
    #: the change reached the broker for the gate's boxes (false: they get it on their next sync)
    published: bool
    #: what was accepted but looks wrong (e.g. a container check digit)
    warnings: list[str] = []


class DeclarationView(msgspec.Struct):
    declaration: Declaration
    required_steps: list[str]
    missing_steps: list[str]


class DeclarationVersion(msgspec.Struct):
    version: int
    at: str
    actor: str
    action: str
    declaration: Declaration


class StepConfirmation(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    note: Text | None = None
    #: customs check only
    result: Literal["match", "mismatch"] | None = None
    #: fees: the receipt or the online payment reference
    reference: DocumentId | None = None


class Reason(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[Text, msgspec.Meta(min_length=3)]


def _owner(principal: Principal, given: str | None) -> str | None:
    if principal.role == "enterprise":
        if given is not None and given != principal.tax_code:
            raise field_error("enterprise", "an enterprise declares under its own tax code only")
        return principal.tax_code
    return given


def visible(store: CentralStore, principal: Principal, number: str) -> Declaration:
    found = store.get_declaration(number)
    if found is None or (principal.role == "enterprise" and found.enterprise != principal.tax_code):
        raise NotFoundException(f"no declaration {number}")
    return found


def _checked(declaration: Declaration) -> list[str]:
    try:
        return lifecycle.check(declaration)
    except InputError as exc:
        raise field_error(exc.field, str(exc)) from None


def change(
    store: CentralStore,
    link: CentralLink | None,
    principal: Principal,
    request: Request[Any, Any, Any],
    number: str,
    action: str,
    apply: Callable[[Declaration], Declaration],
) -> DeclarationSaved:
    """Read, change, save with its audit row in one transaction; then publish."""
    try:
        with store.transaction():
            before = visible(store, principal, number)
            after = apply(before)
            cursor, message = store.put_declaration(
                after, must_exist=True, actor=principal.actor, action=action
            )
            audit(
                store,
                principal,
                request,
                action,
                f"declaration:{number}",
                before=before,
                after=after,
            )
    except LifecycleError as exc:
        raise ClientException(str(exc), status_code=409) from None
    except InputError as exc:
        raise field_error(exc.field, str(exc)) from None
    except InvalidDeclarationError as exc:
        raise ClientException(str(exc), status_code=422) from None
    except PermissionError as exc:
        raise PermissionDeniedException(str(exc)) from None
    return DeclarationSaved(declaration=after, cursor=cursor, published=publish(link, message))


def confirm(
    store: CentralStore,
    link: CentralLink | None,
    principal: Principal,
    request: Request[Any, Any, Any],
    number: str,
    step: str,
    data: StepConfirmation,
) -> DeclarationSaved:
    """Confirm one step as ``principal`` (the API's and the staff UI's way)."""
    at = datetime.now(UTC)

    def apply(current: Declaration) -> Declaration:
        return lifecycle.confirm_step(
            current,
            step,
            principal.role,
            principal.actor,
            at,
            data.note,
            result=data.result,
            reference=data.reference,
        )

    return change(store, link, principal, request, number, f"step:{step}", apply)


def return_declaration(
    store: CentralStore,
    link: CentralLink | None,
    principal: Principal,
    request: Request[Any, Any, Any],
    number: str,
    reason: str,
) -> DeclarationSaved:
    """Return a declaration for re-declaration, the reason naming who returned it."""
    said = f"{reason} ({principal.role} {principal.actor})"
    return change(
        store,
        link,
        principal,
        request,
        number,
        "return",
        lambda current: lifecycle.return_for_redeclaration(current, said),
    )


class DeclarationController(Controller):
    path = "/api/declarations"
    tags = ("declarations",)

    @post("/", status_code=HTTP_201_CREATED, sync_to_thread=True, opt=roles(DECLARANTS))
    def create(
        self,
        store: NamedDependency[CentralStore],
        link: NamedDependency[CentralLink | None],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
        data: RequestBody[DeclarationInput],
    ) -> DeclarationSaved:
        """Declare a crossing: status ``declared``, no steps yet. 409 if the number exists."""
        declaration = data.declaration(_owner(principal, data.enterprise))
        warnings = _checked(declaration)
        try:
            with store.transaction():
                cursor, message = store.put_declaration(
                    declaration, must_exist=False, actor=principal.actor, action="declare"
                )
                audit(
                    store,
                    principal,
                    request,
                    "declare",
                    f"declaration:{data.number}",
                    after=declaration,
                )
        except FileExistsError:
            raise ClientException(
                f"declaration {data.number} exists; PUT re-declares a returned one",
                status_code=409,
            ) from None
        except InvalidDeclarationError as exc:
            raise ClientException(str(exc), status_code=422) from None
        return DeclarationSaved(
            declaration=declaration,
            cursor=cursor,
            published=publish(link, message),
            warnings=warnings,
        )

    @put("/{number:str}", sync_to_thread=True, opt=roles(DECLARANTS))
    def redeclare(
        self,
        store: NamedDependency[CentralStore],
        link: NamedDependency[CentralLink | None],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
        number: FromPath[str],
        data: RequestBody[DeclarationInput],
    ) -> DeclarationSaved:
        """Re-declare a declared or returned declaration (corrected): back to ``declared``,
        every step to be confirmed again; the earlier versions stay in its history."""
        if data.number != number:
            raise field_error("number", f"body number {data.number} differs from path {number}")

        def apply(current: Declaration) -> Declaration:
            if current.status not in ("declared", "returned"):
                raise LifecycleError(
                    f"declaration {number} is {current.status}; only a declared or returned"
                    " one can be re-declared"
                )
            if data.gate != current.gate:
                raise InputError("gate", "a declaration cannot move between gates")
            corrected = data.declaration(_owner(principal, current.enterprise))
            lifecycle.check(corrected)
            return corrected

        return change(store, link, principal, request, number, "redeclare", apply)

    @post(
        "/{number:str}/accept",
        sync_to_thread=True,
        status_code=200,
        opt=roles(ACCEPTORS),
    )
    def accept(
        self,
        store: NamedDependency[CentralStore],
        link: NamedDependency[CentralLink | None],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
        number: FromPath[str],
    ) -> DeclarationSaved:
        """Accept a declared declaration: its steps can now be confirmed."""
        return change(store, link, principal, request, number, "accept", lifecycle.accept)

    @post(
        "/{number:str}/steps/{step:str}",
        sync_to_thread=True,
        status_code=200,
        opt=roles(AGENCIES, {"enterprise"}),
    )
    def confirm_step(
        self,
        store: NamedDependency[CentralStore],
        link: NamedDependency[CentralLink | None],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
        number: FromPath[str],
        step: FromPath[StepName],
        data: RequestBody[StepConfirmation],
    ) -> DeclarationSaved:
        """Confirm one agency step (only the step's agency may; an enterprise registers its
        loading). A customs check with result ``mismatch`` returns the declaration."""
        return confirm(store, link, principal, request, number, step, data)

    @post("/{number:str}/return", sync_to_thread=True, status_code=200, opt=roles(AGENCIES))
    def return_it(
        self,
        store: NamedDependency[CentralStore],
        link: NamedDependency[CentralLink | None],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
        number: FromPath[str],
        data: RequestBody[Reason],
    ) -> DeclarationSaved:
        """Return a declaration for re-declaration, with the reason (any agency)."""
        return return_declaration(store, link, principal, request, number, data.reason)

    @post("/{number:str}/cancel", sync_to_thread=True, status_code=200, opt=roles(DECLARANTS))
    def cancel(
        self,
        store: NamedDependency[CentralStore],
        link: NamedDependency[CentralLink | None],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
        number: FromPath[str],
    ) -> DeclarationSaved:
        """Withdraw a declaration (its enterprise, or customs)."""
        return change(store, link, principal, request, number, "cancel", lifecycle.cancel)

    @post("/import", status_code=HTTP_201_CREATED, sync_to_thread=True, opt=roles({"admin"}))
    def import_one(
        self,
        store: NamedDependency[CentralStore],
        link: NamedDependency[CentralLink | None],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
        data: RequestBody[Declaration],
    ) -> DeclarationSaved:
        """Bring a declaration over from the national platform with its status and steps as
        recorded there (admin only; audited). Creates or replaces."""
        warnings = _checked(data)
        before = store.get_declaration(data.number)
        try:
            with store.transaction():
                cursor, message = store.put_declaration(
                    data, actor=principal.actor, action="import"
                )
                audit(
                    store,
                    principal,
                    request,
                    "import",
                    f"declaration:{data.number}",
                    before=before,
                    after=data,
                )
        except InvalidDeclarationError as exc:
            raise ClientException(str(exc), status_code=422) from None
        except ValueError as exc:
            raise ClientException(str(exc), status_code=409) from None
        return DeclarationSaved(
            declaration=data, cursor=cursor, published=publish(link, message), warnings=warnings
        )

    @get("/", sync_to_thread=True, opt=roles(DECLARATION_READERS))
    def list_declarations(
        self,
        store: NamedDependency[CentralStore],
        principal: NamedDependency[Principal],
        gate: FromQuery[GateCode | None] = None,
        plate: FromQuery[Annotated[str, QueryParameter(max_length=32)] | None] = None,
        status: FromQuery[DeclarationStatus | None] = None,
        limit: Limit = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_INT)] = 0,
    ) -> DeclarationPage:
        """Declarations, newest change first (an enterprise: its own only)."""
        if principal.role == "enterprise" and not principal.tax_code:
            raise PermissionDeniedException("an enterprise account without a tax code")
        if plate is not None:
            from protocol.plates import plate_key

            try:
                plate_key(plate)
            except ValueError as exc:
                raise ClientException(str(exc)) from None
        items, total = store.list_declarations(
            gate=gate,
            plate=plate,
            status=status,
            enterprise=principal.tax_code if principal.role == "enterprise" else None,
            limit=limit,
            offset=offset,
        )
        return DeclarationPage(items=items, total=total, limit=limit, offset=offset)

    @get("/{number:str}", sync_to_thread=True, opt=roles(DECLARATION_READERS))
    def get_declaration(
        self,
        store: NamedDependency[CentralStore],
        principal: NamedDependency[Principal],
        number: FromPath[str],
    ) -> DeclarationView:
        found = visible(store, principal, number)
        return DeclarationView(
            declaration=found,
            required_steps=lifecycle.required_steps(found),
            missing_steps=lifecycle.missing_steps(found),
        )

    @get("/{number:str}/history", sync_to_thread=True, opt=roles(DECLARATION_READERS))
    def history(
        self,
        store: NamedDependency[CentralStore],
        principal: NamedDependency[Principal],
        number: FromPath[str],
    ) -> list[DeclarationVersion]:
        """Every version, oldest first, with who made it and how."""
        visible(store, principal, number)
        return [msgspec.convert(v, DeclarationVersion) for v in store.declaration_history(number)]
