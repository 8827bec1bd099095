"""What route handlers are given by dependency injection: the store, the MQTT link, the caller,
and the two steps every write ends with (the audit row, the change published to the gates)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException

from central.accounts import Principal
from central.ingest import CentralLink
from central.store import CentralStore
from central.web.auth import client_address, principal_of
from protocol.messages import DeclarationChanges


def caller(request: Request[Any, Any, Any]) -> Principal:
    who = principal_of(request)
    if who is None:  # the guard refuses first; this is for a route marked public by mistake
        raise NotAuthorizedException("log in or send a token")
    return who


def dependencies(store: CentralStore, link: CentralLink | None) -> dict[str, Provide]:
    return {
        "store": Provide(lambda: store, use_cache=True, sync_to_thread=False),
        "link": Provide(lambda: link, use_cache=True, sync_to_thread=False),
        "principal": Provide(caller, sync_to_thread=False),
    }


def publish(link: CentralLink | None, message: DeclarationChanges) -> bool:
    return bool(link and link.publish_declarations(message))


def audit(
    store: CentralStore,
    principal: Principal,
    request: Request[Any, Any, Any],
    action: str,
    obj: str,
    *,
    before: Any = None,
    after: Any = None,
) -> None:
    store.audit.record(
        principal,
        action,
        obj,
        before=None if before is None else msgspec.to_builtins(before),
        after=None if after is None else msgspec.to_builtins(after),
        client=client_address(request),
    )
