"""Logging in and out of the staff UI, each role's home page, and the user's language.

The login form posts like the API's ``POST /api/login`` (same limits on failures, same cookie)
and lands on the role's home (``central.ui.pages.HOME``) or the page that sent the user to log
in."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, PermissionDeniedException
from litestar.params import QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from central.accounts import LANGUAGES, Principal
from central.store import CentralStore
from central.ui.pages import Ui, home_of
from central.web.accounts import ANYONE, LoginRefusedError, log_in, session_cookie
from central.web.auth import PUBLIC, SESSION_COOKIE, principal_of, roles

NextPath = Annotated[str, msgspec.Meta(max_length=512)]


class LoginForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(max_length=64)] = ""
    password: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    next: NextPath = ""


class LanguageForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    language: Annotated[str, msgspec.Meta(max_length=8)]


def safe_next(path: str) -> str | None:
    """Only a page of this UI (never another site: ``//host``, a scheme, a backslash)."""
    if path.startswith("/ui/") and "//" not in path and "\\" not in path and ":" not in path:
        return path
    return None


@get("/ui", sync_to_thread=False, opt=PUBLIC, include_in_schema=False)
def ui_home(request: Request[Any, Any, Any]) -> Redirect:
    """The role's home, or the login page."""
    who = principal_of(request)
    return Redirect("/ui/login" if who is None else home_of(who.role))


@get("/ui/login", sync_to_thread=False, opt=PUBLIC, include_in_schema=False)
def login_page(
    request: Request[Any, Any, Any],
    ui: NamedDependency[Ui],
    next_path: Annotated[NextPath, QueryParameter(name="next")] = "",
) -> Template:
    return ui.page(
        request, None, "login.html", "Log in", next=safe_next(next_path) or "", error=None
    )


@post("/ui/login", opt=PUBLIC, include_in_schema=False, status_code=200)
async def login_form(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    ui: NamedDependency[Ui],
    data: URLEncodedBody[LoginForm],
) -> Response[Any]:
    if request.headers.get("sec-fetch-site", "") == "cross-site":
        # another site's form must not log this browser into an account of its choosing
        raise PermissionDeniedException("a login comes from this site's own login page")
    try:
        if not data.username or not data.password:
            raise LoginRefusedError(401, "wrong user name or password")
        session_id, who = await log_in(store, request, data.username, data.password)
    except LoginRefusedError as refused:
        return ui.page(
            request,
            None,
            "login.html",
            "Log in",
            status=refused.status,
            next=safe_next(data.next) or "",
            error="too_many" if refused.status == 429 else "wrong",
        )
    target = safe_next(data.next) or home_of(who.role)
    return Redirect(target, status_code=303, cookies=[session_cookie(request, session_id)])


@post("/ui/logout", sync_to_thread=True, opt=roles(ANYONE), include_in_schema=False)
def logout_form(
    store: NamedDependency[CentralStore], request: Request[Any, Any, Any]
) -> Response[str]:
    """Log out (htmx: the browser then goes to the login page)."""
    value = request.cookies.get(SESSION_COOKIE)
    if value:
        store.accounts.logout(value)
    response = Response("", status_code=200, headers={"HX-Redirect": "/ui/login"})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@post("/ui/language", sync_to_thread=True, opt=roles(ANYONE), include_in_schema=False)
def set_language(
    store: NamedDependency[CentralStore],
    principal: NamedDependency[Principal],
    data: URLEncodedBody[LanguageForm],
) -> Response[str]:
    """The user's language from now on (htmx: the page reloads in it)."""
    if data.language not in LANGUAGES:
        raise ClientException(f"language is one of {', '.join(LANGUAGES)}")
    if principal.via == "session":
        store.accounts.set_language(principal.name, data.language)
    return Response("", status_code=200, headers={"HX-Refresh": "true"})


ROUTES = [ui_home, login_page, login_form, logout_form, set_language]
