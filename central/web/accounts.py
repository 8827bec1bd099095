"""Logging in and out, who am I, and the admin's accounts and API tokens."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotAuthorizedException
from litestar.params import FromPath, RequestBody
from litestar.status_codes import HTTP_201_CREATED

from central.accounts import FAILURE_WINDOW, AccountError, Principal, TokenInfo, User
from central.roles import ROLES, Role
from central.store import CentralStore
from central.web.auth import PUBLIC, SESSION_COOKIE, client_address, roles
from central.web.context import audit

log = logging.getLogger("cuakhau.central.auth")

Username = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
#: every role but enterprise may read who it is; every one may log in
ANYONE: frozenset[Role] = frozenset(ROLES)


class Login(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Username
    password: Password


class Me(msgspec.Struct):
    name: str
    role: str
    tax_code: str | None
    via: str
    #: send this in ``X-CSRF-Token`` with every write made with the session cookie
    csrf_token: str | None


def _me(who: Principal) -> Me:
    return Me(name=who.name, role=who.role, tax_code=who.tax_code, via=who.via, csrf_token=who.csrf)


class LoginRefusedError(Exception):
    """A login that did not succeed: ``status`` 401 (wrong credentials) or 429 (too many)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def log_in(
    store: CentralStore, request: Request[Any, Any, Any], username: str, password: str
) -> tuple[str, Principal]:
    """Check a login (limits on failures first), audit it; the session id and who it is.
    The API's and the staff UI's way; ``LoginRefusedError`` says why not."""
    client = client_address(request)
    accounts = store.accounts
    if await anyio.to_thread.run_sync(accounts.too_many_failures, username, client):
        log.warning("login refused (too many failures) user=%s client=%s", username, client)
        raise LoginRefusedError(429, "too many failed logins; try again later")
    done = await anyio.to_thread.run_sync(accounts.login, username, password, client)
    if done is None:
        log.warning("login failed user=%s client=%s", username, client)
        raise LoginRefusedError(401, "wrong user name or password")
    session_id, who = done
    log.info("login user=%s role=%s client=%s", who.name, who.role, client)
    await anyio.to_thread.run_sync(
        lambda: store.audit.record(who, "login", f"user:{who.name}", client=client)
    )
    return session_id, who


def session_cookie(request: Request[Any, Any, Any], session_id: str) -> Cookie:
    """The login cookie: HttpOnly, SameSite=Strict, Secure behind TLS (``secure_cookies``)."""
    return Cookie(
        key=SESSION_COOKIE,
        value=session_id,
        httponly=True,
        samesite="strict",
        secure=bool(request.app.state.get("secure_cookies", False)),
        path="/",
    )


@post("/api/login", tags=["accounts"], status_code=200, opt=PUBLIC)
async def login(
    store: NamedDependency[CentralStore], request: Request[Any, Any, Any], data: RequestBody[Login]
) -> Response[Me]:
    """Log in: a session cookie (HttpOnly, SameSite=Strict) and the CSRF token for writes.
    Too many failures for a user or from an address: 429 for a while."""
    try:
        session_id, who = await log_in(store, request, data.username, data.password)
    except LoginRefusedError as refused:
        if refused.status == 429:
            raise ClientException(
                str(refused),
                status_code=429,
                headers={"Retry-After": str(int(FAILURE_WINDOW.total_seconds()))},
            ) from None
        raise NotAuthorizedException(str(refused)) from None
    return Response(_me(who), cookies=[session_cookie(request, session_id)])


@get("/api/login", tags=["accounts"], sync_to_thread=False, opt=roles(ANYONE))
def whoami(principal: NamedDependency[Principal]) -> Me:
    """Who the caller is (and, for a session, its CSRF token)."""
    return _me(principal)


@delete("/api/login", tags=["accounts"], sync_to_thread=True, status_code=200, opt=roles(ANYONE))
def logout(
    store: NamedDependency[CentralStore], request: Request[Any, Any, Any]
) -> Response[dict[str, bool]]:
    value = request.cookies.get(SESSION_COOKIE)
    if value:
        store.accounts.logout(value)
    response = Response({"logged_out": True})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


class NewUser(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Username
    role: Role
    password: Password
    tax_code: Annotated[str, msgspec.Meta(max_length=16)] | None = None
    display_name: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    language: str = "vi"


@get("/api/users", tags=["accounts"], sync_to_thread=True, opt=roles({"admin"}))
def list_users(store: NamedDependency[CentralStore]) -> list[User]:
    return store.accounts.users()


@post(
    "/api/users",
    tags=["accounts"],
    sync_to_thread=True,
    status_code=HTTP_201_CREATED,
    opt=roles({"admin"}),
)
def add_user(
    store: NamedDependency[CentralStore],
    principal: NamedDependency[Principal],
    request: Request[Any, Any, Any],
    data: RequestBody[NewUser],
) -> User:
    try:
        with store.transaction():
            user = store.accounts.add_user(
                data.username,
                data.role,
                data.password,
                tax_code=data.tax_code,
                display_name=data.display_name,
                language=data.language,
            )
            audit(
                store,
                principal,
                request,
                "user:add",
                f"user:{data.username}",
                after={"role": data.role, "tax_code": data.tax_code},
            )
    except AccountError as exc:
        raise ClientException(str(exc), status_code=422) from None
    return user


@post(
    "/api/users/{username:str}/disable",
    tags=["accounts"],
    sync_to_thread=True,
    status_code=200,
    opt=roles({"admin"}),
)
def disable_user(
    store: NamedDependency[CentralStore],
    principal: NamedDependency[Principal],
    request: Request[Any, Any, Any],
    username: FromPath[str],
) -> dict[str, str]:
    try:
        with store.transaction():
            store.accounts.disable(username)
            audit(store, principal, request, "user:disable", f"user:{username}")
    except AccountError as exc:
        raise ClientException(str(exc), status_code=404) from None
    return {"disabled": username}


class NewToken(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    role: Role
    tax_code: Annotated[str, msgspec.Meta(max_length=16)] | None = None
    expires_days: Annotated[float, msgspec.Meta(gt=0, le=3650)] = 90


class TokenCreated(msgspec.Struct):
    name: str
    role: str
    #: shown once: only its hash is kept
    token: str


@get("/api/tokens", tags=["accounts"], sync_to_thread=True, opt=roles({"admin"}))
def list_tokens(store: NamedDependency[CentralStore]) -> list[TokenInfo]:
    return store.accounts.tokens()


@post(
    "/api/tokens",
    tags=["accounts"],
    sync_to_thread=True,
    status_code=HTTP_201_CREATED,
    opt=roles({"admin"}),
)
def create_token(
    store: NamedDependency[CentralStore],
    principal: NamedDependency[Principal],
    request: Request[Any, Any, Any],
    data: RequestBody[NewToken],
) -> TokenCreated:
    """A token for an enterprise's system or a machine client, scoped to one role."""
    try:
        with store.transaction():
            token = store.accounts.create_token(
                data.name,
                data.role,
                created_by=principal.actor,
                tax_code=data.tax_code,
                expires_days=data.expires_days,
            )
            audit(
                store,
                principal,
                request,
                "token:create",
                f"token:{data.name}",
                after={
                    "role": data.role,
                    "tax_code": data.tax_code,
                    "expires_days": data.expires_days,
                },
            )
    except AccountError as exc:
        raise ClientException(str(exc), status_code=422) from None
    return TokenCreated(name=data.name, role=data.role, token=token)


@delete(
    "/api/tokens/{name:str}",
    tags=["accounts"],
    sync_to_thread=True,
    status_code=200,
    opt=roles({"admin"}),
)
def revoke_token(
    store: NamedDependency[CentralStore],
    principal: NamedDependency[Principal],
    request: Request[Any, Any, Any],
    name: FromPath[str],
) -> dict[str, str]:
    try:
        with store.transaction():
            store.accounts.revoke_token(name)
            audit(store, principal, request, "token:revoke", f"token:{name}")
    except AccountError as exc:
        raise ClientException(str(exc), status_code=404) from None
    return {"revoked": name}


ROUTES = [
    login,
    whoami,
    logout,
    list_users,
    add_user,
    disable_user,
    list_tokens,
    create_token,
    revoke_token,
]
