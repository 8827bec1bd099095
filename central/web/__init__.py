"""Central's HTTP API (JSON; OpenAPI at ``/schema``): the Litestar app and its routes."""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig

from central.ingest import CentralLink
from central.store import CentralStore
from central.web import accounts, audit, devices, events
from central.web.auth import Authenticate, authorize
from central.web.context import dependencies
from central.web.declarations import DeclarationController
from central.web.errors import HANDLERS

#: Request bodies, at most: a declaration with every field at its limit is about 40 KiB.
MAX_BODY_BYTES = 256 * 1024


def build_app(
    store: CentralStore, link: CentralLink | None, *, secure_cookies: bool = False
) -> Litestar:
    return Litestar(
        route_handlers=[
            DeclarationController,
            *events.ROUTES,
            *devices.ROUTES,
            *accounts.ROUTES,
            *audit.ROUTES,
        ],
        middleware=[DefineMiddleware(Authenticate, accounts=store.accounts)],
        guards=[authorize],
        dependencies=dependencies(store, link),
        state=State({"secure_cookies": secure_cookies}),
        logging_config=None,
        request_max_body_size=MAX_BODY_BYTES,
        exception_handlers=HANDLERS,
        openapi_config=OpenAPIConfig(title="cuakhau central", version="0.2.0", path="/schema"),
        on_shutdown=[lambda: link.stop() if link else None, store.close],
    )
