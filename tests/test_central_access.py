"""Who may call what at central: deny by default, walked over every route of the OpenAPI
schema; sessions with CSRF, API tokens that expire and can be revoked, a login rate limit; and
an audit row for every write, in a trail nothing can edit."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from central.roles import ROLES
from central.store import CentralStore
from central.web import build_app
from testkit.declarations import declared
from testkit.processes import Central

#: what anyone may call without logging in
PUBLIC = {
    ("GET", "/"),
    ("GET", "/health"),
    ("POST", "/api/login"),
    ("POST", "/api/enrol"),
    # the staff UI's way in, and its stylesheet and scripts
    ("GET", "/ui"),
    ("GET", "/ui/login"),
    ("POST", "/ui/login"),
    ("GET", "/ui/static/{file_path:path}"),
}
#: The staff UI's pages are HTML, not part of the API's schema (a logged-out browser is sent to
#: the login page: 303 where the API answers 401).
UI = "/ui"


def route_roles(tmp_path: Path) -> dict[tuple[str, str], frozenset[str] | None]:
    """(method, path template) -> roles allowed (None: public), read from the app itself."""
    app = build_app(CentralStore(tmp_path / "routes.db"), None)
    table: dict[tuple[str, str], frozenset[str] | None] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                # the schema is public; OPTIONS (CORS preflight, added by Litestar) and HEAD
                # carry no data and are refused by the guard anyway
                if route.path.startswith("/schema") or method in ("OPTIONS", "HEAD"):
                    continue
                opt = handler.opt
                table[(method, route.path)] = None if opt.get("public") else opt.get("roles")
    return table


def concrete(path: str) -> str:
    """A path template with plausible values in its parameters."""
    return re.sub(r"\{[^}]+\}", lambda m: "1" if ":int" in m.group(0) else "2026112300001", path)


def test_every_route_of_the_schema_states_who_may_call_it_and_refuses_everyone_else(
    central: Central, tmp_path: Path
) -> None:
    table = route_roles(tmp_path)
    schema = central.get("/schema/openapi.json", role=None)  # the schema itself is public
    documented = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    }
    known = {(m, re.sub(r"\{(\w+):\w+\}", r"{\1}", p)) for m, p in table if not p.startswith(UI)}
    assert documented == known, "every API route is in the schema, and only those"
    assert {k for k, v in table.items() if v is None} == PUBLIC
    assert all(v for v in table.values() if v is not None), "a route with an empty role list"
    checked = 0
    for (method, template), allowed in sorted(table.items()):
        if allowed is None:
            continue
        path = concrete(template)
        code, body = central.send(
            method, path, {} if method in ("POST", "PUT") else None, role=None
        )
        if template.startswith(UI):  # to the login page, never the page itself
            assert code in (200, 303) and "/ui/login" in str(body), (method, path, code)
        else:
            assert code == 401, (method, path, code, body)
        for role in sorted(set(ROLES) - set(allowed))[:3]:
            token = central.token("enterprise", "0101234567") if role == "enterprise" else None
            code, body = central.send(
                method, path, {} if method in ("POST", "PUT") else None, role=role, token=token
            )
            assert code == 403, (method, path, role, code, body)
            checked += 1
    assert checked > 40
    # a garbage credential is no credential
    code, body = central.send(
        "GET", "/api/devices", None, role=None, headers={"Authorization": "Bearer ckt_forged"}
    )
    assert code == 401 and "unknown token" in body["detail"]
    code, _ = central.send(
        "GET", "/api/devices", None, role=None, headers={"Authorization": "Basic YWRtaW46YWRtaW4="}
    )
    assert code == 401


def test_a_session_writes_only_with_its_csrf_token_and_ends_at_logout(central: Central) -> None:
    session = central.login("customs.pham", "customs")
    cookie_only = {"Cookie": session["Cookie"]}
    me = central.send("GET", "/api/login", None, role=None, headers=cookie_only)[1]
    assert me["name"] == "customs.pham" and me["role"] == "customs" and me["via"] == "session"
    body = declared("2026112300001", "29H-888.12")
    code, answer = central.send("POST", "/api/declarations/", body, role=None, headers=cookie_only)
    assert code == 403 and "CSRF" in answer["detail"]
    code, _ = central.send(
        "POST",
        "/api/declarations/",
        body,
        role=None,
        headers=cookie_only | {"X-CSRF-Token": "guessed"},
    )
    assert code == 403
    code, _ = central.send("POST", "/api/declarations/", body, role=None, headers=session)
    assert code == 201
    code, _ = central.send("DELETE", "/api/login", None, role=None, headers=session)
    assert code == 200
    code, answer = central.send("GET", "/api/declarations/", None, role=None, headers=session)
    assert code == 401 and "log in again" in answer["detail"]


def test_login_is_rate_limited_logged_and_never_says_which_part_was_wrong(
    central: Central,
) -> None:
    central.login("guard.vu", "border_guard")
    attempt = {"username": "guard.vu", "password": "not the password"}
    for _ in range(5):
        code, body = central.send("POST", "/api/login", attempt, role=None)
        assert code == 401 and body["detail"] == "wrong user name or password"
    code, body = central.send("POST", "/api/login", attempt, role=None)
    assert code == 429
    nobody = {"username": "no.such.user", "password": "whatever it is"}
    assert central.send("POST", "/api/login", nobody, role=None)[1]["detail"] == (
        "wrong user name or password"
    )
    log = central.output()
    assert "login failed user=guard.vu" in log and "login refused (too many failures)" in log
    assert "not the password" not in log, "a password in the log"


def test_tokens_are_scoped_expire_and_are_revoked(central: Central) -> None:
    short = central.token("viewer", expires_days=1.5 / 86400)  # a second and a half
    assert central.send("GET", "/api/devices", None, token=short, role=None)[0] == 200
    assert (
        central.send(
            "POST",
            "/api/declarations/",
            declared("2026112300001", "29H-888.12"),
            token=short,
            role=None,
        )[0]
        == 403
    )  # a viewer's scope
    time.sleep(2)
    code, body = central.send("GET", "/api/devices", None, token=short, role=None)
    assert code == 401 and "expired" in body["detail"]

    code, made = central.send(
        "POST",
        "/api/tokens",
        {"name": "erp-0101234567", "role": "enterprise", "tax_code": "0101234567"},
        role="admin",
    )
    assert code == 201 and made["token"].startswith("ckt_")
    listed = central.get("/api/tokens")
    assert "token" not in str(listed[0].keys()) and made["token"] not in str(listed)
    erp = made["token"]
    assert central.send("GET", "/api/declarations/", None, token=erp, role=None)[0] == 200
    assert central.send("DELETE", "/api/tokens/erp-0101234567", None, role="admin")[0] == 200
    code, body = central.send("GET", "/api/declarations/", None, token=erp, role=None)
    assert code == 401 and "revoked" in body["detail"]
    conn = sqlite3.connect(central.db)
    stored = [r[0] for r in conn.execute("SELECT token_hash FROM api_tokens")]
    conn.close()
    assert erp not in stored and all(len(h) == 64 for h in stored), "tokens hashed at rest"


def test_every_write_leaves_an_audit_row_and_the_trail_cannot_be_edited(
    central: Central,
) -> None:
    n = "2026112300001"
    store = CentralStore(central.db)
    store.note_gate("hn-b1-01", "CKHN")  # a box central knows (commands go only to those)
    store.close()
    writes: list[tuple[str, str, Any, str]] = [
        ("POST", "/api/declarations/", declared(n, "29H-888.12"), "customs"),
        ("POST", f"/api/declarations/{n}/accept", None, "customs"),
        ("POST", f"/api/declarations/{n}/steps/border_guard", {}, "border_guard"),
        ("POST", f"/api/declarations/{n}/return", {"reason": "seal broken"}, "customs"),
        ("POST", "/api/devices/hn-b1-01/commands", {"action": "resync"}, "technician"),
        (
            "POST",
            "/api/users",
            {"username": "viewer.ly", "role": "viewer", "password": "a long enough password"},
            "admin",
        ),
        ("POST", "/api/users/viewer.ly/disable", None, "admin"),
    ]
    for method, path, body, role in writes:
        code, answer = central.send(method, path, body, role=role)
        assert code in (200, 201, 202), (path, code, answer)
    rows = central.get("/api/audit?limit=1000", role="viewer")
    actions = [r["action"] for r in reversed(rows)]
    assert actions == [
        "declare",
        "accept",
        "step:border_guard",
        "return",
        "command:resync",
        "user:add",
        "user:disable",
    ]
    returned = rows[3]
    assert returned["object"] == f"declaration:{n}" and returned["role"] == "customs"
    assert returned["before"]["status"] == "accepted"
    assert returned["after"]["status"] == "returned" and returned["client"] == "127.0.0.1"
    assert "password" not in str(rows[1]["after"])
    csv = central.send("GET", "/api/audit.csv?action=declare", None, role="admin")
    assert csv[0] == 200 and "declare" in str(csv[1])
    assert central.send("GET", "/api/audit", None, role="customs")[0] == 403
    conn = sqlite3.connect(central.db)
    for statement in ("UPDATE audit SET actor = 'nobody'", "DELETE FROM audit"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(statement)
    conn.close()


def test_the_first_admin_comes_from_the_command_line_and_no_account_exists_before(
    central: Central, tmp_path: Any
) -> None:
    from testkit.processes import run_module

    assert central.get("/api/users") == []
    password = tmp_path / "pw"
    password.write_text("correct horse battery staple\n", encoding="utf-8")
    db = str(central.db)
    done = run_module(
        "cuakhau",
        "central",
        "user",
        "add",
        "ops.nguyen",
        "--role",
        "admin",
        "--password-file",
        str(password),
        "--db",
        db,
    )
    assert done.returncode == 0, done.stderr
    short = tmp_path / "short"
    short.write_text("letmein\n", encoding="utf-8")
    refused = run_module(
        "cuakhau",
        "central",
        "user",
        "add",
        "ops.tran",
        "--role",
        "admin",
        "--password-file",
        str(short),
        "--db",
        db,
    )
    assert refused.returncode == 2 and "at least 12" in refused.stderr
    code, me = central.send(
        "POST",
        "/api/login",
        {"username": "ops.nguyen", "password": "correct horse battery staple"},
        role=None,
    )
    assert code == 200 and me["role"] == "admin"
    made = run_module(
        "cuakhau", "central", "token", "create", "gate-sync", "--role", "customs", "--db", db
    )
    assert made.returncode == 0 and made.stdout.startswith("ckt_")
    assert (
        central.send("GET", "/api/declarations/", None, token=made.stdout.strip(), role=None)[0]
        == 200
    )
