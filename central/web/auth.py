"""Who is calling, and whether they may: authentication middleware, CSRF, and the one guard.

- A machine client sends ``Authorization: Bearer <token>`` (an API token: hashed at rest,
  scoped to a role, revocable, with an expiry).
- A person logs in (``POST /api/login``) and holds a session cookie (``HttpOnly``,
  ``SameSite=Strict``, ``Secure`` behind TLS). Cookie-authenticated writes must carry the
  session's CSRF token in ``X-CSRF-Token`` (a synchronizer token bound to the server-side
  session; token clients are exempt: their credential is never sent by a browser on its own).

Deny by default: every route names the roles that may call it (``opt={"roles": ...}``) or is
public (``opt={"public": True}``: health, login, the OpenAPI schema). A route that names no
roles is refused to everyone. No credentials: 401; the wrong role or a missing CSRF token: 403.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Collection
from http.cookies import SimpleCookie
from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from central.accounts import AccountStore, Principal
from central.roles import Role

log = logging.getLogger("cuakhau.central.auth")

SESSION_COOKIE = "cuakhau_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: routes of Litestar's OpenAPI controller (the schema is public, as the API's description)
SCHEMA_PREFIX = "/schema"


def roles(*groups: Collection[Role]) -> dict[str, Any]:
    """A route's ``opt``: who may call it."""
    allowed: set[Role] = set()
    for group in groups:
        allowed |= set(group)
    return {"roles": frozenset(allowed)}


PUBLIC: dict[str, Any] = {"public": True}


class Authenticate:
    """ASGI middleware: puts the caller (a ``Principal``, or None) in ``scope["user"]`` and,
    when credentials were presented but refused, why in ``scope["auth"]``."""

    def __init__(self, app: ASGIApp, accounts: AccountStore) -> None:
        self.app = app
        self.accounts = accounts
        self._touched: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            principal, problem = await anyio.to_thread.run_sync(self._resolve, scope)
            scope["user"] = principal
            scope["auth"] = problem
        await self.app(scope, receive, send)

    def _resolve(self, scope: Scope) -> tuple[Principal | None, str | None]:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        authorization = headers.get("authorization", "")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None, "Authorization must be 'Bearer <token>'"
            found = self.accounts.token(token.strip())
            if isinstance(found, str):
                return None, found
            self._touch(found.name)
            return found, None
        cookie = headers.get("cookie")
        if cookie:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(cookie)
            except Exception:  # a malformed Cookie header is no session
                return None, "malformed Cookie header"
            morsel = jar.get(SESSION_COOKIE)
            if morsel is not None and morsel.value:
                session = self.accounts.session(morsel.value[:256])
                if session is None:
                    return None, "session expired or logged out; log in again"
                return session, None
        return None, None

    def _touch(self, name: str) -> None:
        now = time.monotonic()
        if now - self._touched.get(name, 0.0) > 60:
            self._touched[name] = now
            self.accounts.touch_token(name)


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Principal) else None


def authorize(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The app's one guard (see the module docstring)."""
    if handler.opt.get("public") or connection.scope["path"].startswith(SCHEMA_PREFIX):
        return
    who = principal_of(connection)
    if who is None:
        problem = connection.scope.get("auth")
        raise NotAuthorizedException(
            problem or "log in (POST /api/login) or send 'Authorization: Bearer <token>'"
        )
    allowed: frozenset[Role] | None = handler.opt.get("roles")
    if not allowed:
        raise PermissionDeniedException("this route names no role that may call it")
    if who.role not in allowed:
        raise PermissionDeniedException(f"role {who.role} may not do this")
    method = connection.scope.get("method", "GET")
    if who.via == "session" and method not in SAFE_METHODS:
        sent = connection.headers.get(CSRF_HEADER, "")
        if not who.csrf or not hmac.compare_digest(sent.encode(), who.csrf.encode()):
            raise PermissionDeniedException(
                f"a write with a session cookie needs the session's CSRF token in {CSRF_HEADER}"
            )


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    return connection.client.host if connection.client else "unknown"
