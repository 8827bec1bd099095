"""Central's HTTP API (JSON; OpenAPI at ``/schema``): the Litestar app and its routes."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig

from central import ui as staff_ui
from central.config import UiSettings
from central.enrolment import Enrolment
from central.identities import IdentityStore
from central.ingest import CentralLink
from central.store import CentralStore
from central.web import accounts, audit, devices, events
from central.web import enrolment as enrolment_routes
from central.web.auth import Authenticate, authorize
from central.web.context import dependencies
from central.web.declarations import DeclarationController
from central.web.errors import HANDLERS, http_error, invalid_input
from protocol.signing import new_key

#: Request bodies, at most: a declaration with every field at its limit is about 40 KiB.
MAX_BODY_BYTES = 256 * 1024


def build_app(
    store: CentralStore,
    link: CentralLink | None,
    *,
    secure_cookies: bool = False,
    enrolment: Enrolment | None = None,
    ui: UiSettings | None = None,
) -> Litestar:
    if enrolment is None:  # no broker access to manage, a key for this process only
        enrolment = Enrolment(IdentityStore(store.file), new_key(), None, None)
    provided = dependencies(store, link)
    provided["enrolment"] = Provide(lambda: enrolment, use_cache=True, sync_to_thread=False)
    ui_routes, ui_context = staff_ui.routes(ui or UiSettings())
    provided["ui"] = Provide(lambda: ui_context, use_cache=True, sync_to_thread=False)
    return Litestar(
        route_handlers=[
            DeclarationController,
            *events.ROUTES,
            *devices.ROUTES,
            *accounts.ROUTES,
            *audit.ROUTES,
            *enrolment_routes.ROUTES,
            *ui_routes,
        ],
        middleware=[DefineMiddleware(Authenticate, accounts=store.accounts)],
        guards=[authorize],
        dependencies=provided,
        state=State({"secure_cookies": secure_cookies}),
        logging_config=None,
        request_max_body_size=MAX_BODY_BYTES,
        exception_handlers={
            **HANDLERS,
            HTTPException: _http_error,
            ValidationException: _invalid_input,
        },
        template_config=staff_ui.template_config(),
        openapi_config=OpenAPIConfig(title="cuakhau central", version="0.2.0", path="/schema"),
        on_shutdown=[lambda: link.stop() if link else None, store.close],
    )


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    return (
        staff_ui.ui_refusal(request, exc) if staff_ui.is_ui(request) else http_error(request, exc)
    )


def _invalid_input(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    if staff_ui.is_ui(request):
        return staff_ui.ui_refusal(request, exc)
    return invalid_input(request, exc)
