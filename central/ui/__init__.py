"""Central's staff UI (``/ui``): server-rendered pages (Jinja templates), htmx for actions and
Server-Sent Events for live updates, in Vietnamese and English.

Every page is a route of the one Litestar app and passes its one guard: each names the roles
that may see it, the login page and the static assets are public, everything else is refused.
A page asked for without a login sends the browser to the login page; a refused action answers
403 with the reason. Front-end assets (htmx and its SSE extension) come from the npm registry,
pinned by ``package-lock.json``, installed by ``scripts/setup`` and served from here (gates run
on closed networks: no CDN).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.router import Router
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from markupsafe import escape

from central.config import UiSettings
from central.ui import actions, audit, crossing, declarations, fleet, gate, held, queue, session
from central.ui.i18n import translator
from central.ui.pages import Ui, login_url
from central.web.auth import PUBLIC, principal_of

log = logging.getLogger("cuakhau.central.ui")

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
#: The checkout's npm install (``scripts/setup``), where the front-end assets come from.
NODE_MODULES = HERE.parent.parent / "node_modules"
#: The files served from the npm packages, by the name the pages use.
VENDOR = {"htmx.min.js": "htmx.org/dist", "sse.min.js": "htmx-ext-sse/dist"}


def asset_dirs(settings: UiSettings) -> list[Path]:
    """Where the vendored assets are; empty (and a warning) when they were not installed."""
    base = Path(settings.assets_dir) if settings.assets_dir else NODE_MODULES
    dirs = [base / sub for sub in VENDOR.values()]
    missing = [
        str(d / name)
        for (name, _), d in zip(VENDOR.items(), dirs, strict=True)
        if not (d / name).is_file()
    ]
    if missing:
        log.warning(
            "staff UI assets missing (%s): pages work without live updates; run scripts/setup",
            ", ".join(missing),
        )
        return []
    return dirs


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


def routes(settings: UiSettings) -> tuple[list[Any], Ui]:
    ui = Ui(settings, assets=asset_dirs(settings))
    static: Router = create_static_files_router(
        path="/ui/static",
        directories=[STATIC, *ui.assets],
        opt=PUBLIC,
        include_in_schema=False,
        name="ui-static",
    )
    pages = (session, gate, held, actions, crossing, queue, declarations, fleet, audit)
    return [*(route for page in pages for route in page.ROUTES), static], ui


def is_ui(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith("/ui")


def ui_refusal(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """A refusal on a page: to the login page when not logged in; otherwise the reason as a
    piece of HTML (htmx shows it where the action's result goes) with the status code."""
    htmx = request.headers.get("hx-request") == "true"
    if isinstance(exc, NotAuthorizedException) and principal_of(request) is None:
        # back to the page afterwards: the page itself, or the one an action was sent from
        page = request.url.path
        if request.method != "GET":
            current = urlsplit(request.headers.get("hx-current-url", "")).path
            page = current if current.startswith("/ui/") else "/ui"
        target = login_url(page)
        if htmx:
            return Response("", status_code=401, headers={"HX-Redirect": target})
        return Redirect(target, status_code=303)
    who = principal_of(request)
    _ = translator(who.language if who else "en")
    body = f'<p class="result refused" role="alert">{_("Refused")}: {escape(str(exc.detail))}</p>'
    return Response(body, status_code=exc.status_code, media_type="text/html")


__all__ = ["is_ui", "routes", "template_config", "ui_refusal"]
