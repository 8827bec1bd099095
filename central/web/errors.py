"""How central answers bad input and its own failures: 400 for a bad parameter, 422 naming the
field for a bad body, 400 for a body nested too deeply, and a 500 that is logged once with its
traceback and says nothing internal."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import ClientException, HTTPException, ValidationException

log = logging.getLogger("cuakhau.central.api")


def field_error(field: str, message: str, status: int = 422) -> ClientException:
    """A 422 (or ``status``) naming the body field that is wrong."""
    return ClientException(
        f"Validation failed: {message}",
        status_code=status,
        extra=[{"key": field, "message": message, "source": "body"}],
    )


def invalid_input(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    in_body = any(isinstance(e, dict) and e.get("source") == "body" for e in extra)
    status = 422 if in_body else 400
    body = {"status_code": status, "detail": exc.detail, "extra": extra}
    return Response(body, status_code=status)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's own answer to an HTTP error: its status, detail, extra and headers."""
    body: dict[str, Any] = {"status_code": exc.status_code, "detail": exc.detail}
    if exc.extra:
        body["extra"] = exc.extra
    return Response(body, status_code=exc.status_code, headers=exc.headers)


def too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    return Response(
        {"status_code": 400, "detail": "request body nested too deeply"}, status_code=400
    )


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error(
        "500 on %s %s: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc
    )
    return Response({"status_code": 500, "detail": "Internal Server Error"}, status_code=500)


HANDLERS: dict[Any, Any] = {
    ValidationException: invalid_input,
    RecursionError: too_deep,
    500: internal_error,
}
