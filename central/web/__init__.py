"""Central's HTTP API (JSON; OpenAPI at ``/schema``): the Litestar app and its routes."""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig

from central.enrolment import Enrolment
from central.identities import IdentityStore
from central.ingest import CentralLink
from central.store import CentralStore
from central.web import accounts, audit, devices, events
from central.web import enrolment as enrolment_routes
from central.web.auth import Authenticate, authorize
from central.web.context import dependencies
from central.web.declarations import DeclarationController
from central.web.errors import HANDLERS
from protocol.signing import new_key

#: Request bodies, at most: a declaration with every field at its limit is about 40 KiB.
MAX_BODY_BYTES = 256 * 1024


def build_app(
    store: CentralStore,
    link: CentralLink | None,
    *,
    secure_cookies: bool = False,
    enrolment: Enrolment | None = None,
) -> Litestar:
    if enrolment is None:  # no broker access to manage, a key for this process only
        enrolment = Enrolment(IdentityStore(store.file), new_key(), None, None)
    provided = dependencies(store, link)
    provided["enrolment"] = Provide(lambda: enrolment, use_cache=True, sync_to_thread=False)
    return Litestar(
        route_handlers=[
            DeclarationController,
            *events.ROUTES,
            *devices.ROUTES,
            *accounts.ROUTES,
            *audit.ROUTES,
            *enrolment_routes.ROUTES,
        ],
        middleware=[DefineMiddleware(Authenticate, accounts=store.accounts)],
        guards=[authorize],
        dependencies=provided,
        state=State({"secure_cookies": secure_cookies}),
        logging_config=None,
        request_max_body_size=MAX_BODY_BYTES,
        exception_handlers=HANDLERS,
        openapi_config=OpenAPIConfig(title="cuakhau central", version="0.2.0", path="/schema"),
        on_shutdown=[lambda: link.stop() if link else None, store.close],
    )
