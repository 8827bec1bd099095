"""The staff UI's pages, server side, on a real central store: who may see what (the rest is
refused, and a logged-out browser is sent to the login page), what each page shows, the same
number of reads whatever the number of rows (no N+1), and every word in Vietnamese."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from central.config import UiSettings
from central.store import CentralStore
from central.web import build_app
from protocol.messages import Declaration, DeviceState, StepFlag
from testkit.crossings import Box, crop_jpeg

PASSWORD = "correct horse battery staple"
NOW = datetime.now(UTC).replace(microsecond=0)
USERS = {
    "bg.nam": "border_guard",
    "pq.hoang": "plant_quarantine",
    "cus.lan": "customs",
    "view.an": "viewer",
    "admin.minh": "admin",
    "tech.duc": "technician",
    "ent.abc": "enterprise",
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CentralStore]:
    s = CentralStore(tmp_path / "central.db", synchronous="NORMAL")
    for name, role in USERS.items():
        s.accounts.add_user(
            name,
            role,
            PASSWORD,
            language="en",
            tax_code="0101234567" if role == "enterprise" else None,
        )
    yield s
    s.close()


def _declare(store: CentralStore, number: str, plate: str, **extra: Any) -> Declaration:
    declaration = Declaration(
        number=number,
        direction="import",
        gate="CKHN",
        plate=plate,
        nationality="CN",
        declared_weight_kg=24_000,
        quarantine=["plant"],
        enterprise="0101234567",
        status="accepted",
        **extra,
    )
    store.put_declaration(declaration)
    return declaration


def _gate(store: CentralStore, held: int = 3) -> Box:
    """A gate with ``held`` lanes holding a truck now, and a lane where one truck was opened
    by hand and then five opened by themselves."""
    box = Box(store, "hn-b1", "CKHN", start=NOW - timedelta(hours=2))
    store.record_state(
        DeviceState(device="hn-b1", gate="CKHN", status="online", at=NOW, outbox_pending=4)
    )
    for i in range(held):
        number = f"{NOW:%Y%m%d}{i:05d}"
        _declare(store, number, f"桂A{i:05d}")
        box.truck(
            i,
            f"桂A{i:05d}",
            hold=True,
            declaration=number,
            crop=crop_jpeg(i),
            checkpoint=f"lane-{i + 1}",
        )
    box.truck(50, "29H-888.12", hold=True, override_by="bg.nam", crop=crop_jpeg(999))
    for i in range(5):
        box.truck(60 + i, f"15C-{i:03d}.45", crop=crop_jpeg(1000 + i))
    return box


def _client(store: CentralStore) -> TestClient[Any]:
    return TestClient(build_app(store, None, ui=UiSettings(legal_gross_kg={"default": 48_000})))


def _login(client: TestClient[Any], user: str) -> str:
    """Log in as ``user`` (out of whoever was logged in); the page's CSRF token."""
    client.cookies.clear()
    response = client.post(
        "/ui/login", data={"username": user, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def test_a_logged_out_browser_is_sent_to_the_login_page(store: CentralStore) -> None:
    with _client(store) as client:
        for path in ("/ui/held", "/ui/gate", "/ui/fleet", "/ui/audit", "/ui/crossings/1"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/ui/login?next=/ui/")
        assert client.get("/ui/login").status_code == 200
        refused = client.post("/ui/held/1/open", data={"reason": "x"}, follow_redirects=False)
        assert refused.status_code == 303  # no login: to the login page, nothing sent


def test_wrong_password_and_foreign_next_are_refused(store: CentralStore) -> None:
    with _client(store) as client:
        wrong = client.post("/ui/login", data={"username": "bg.nam", "password": "nope nope"})
        assert wrong.status_code == 401
        assert "Sai tên đăng nhập hoặc mật khẩu" in wrong.text  # the login page speaks vi
        sent = client.post(
            "/ui/login",
            data={"username": "bg.nam", "password": PASSWORD, "next": "//evil.example/ui/x"},
            follow_redirects=False,
        )
        assert sent.headers["location"] == "/ui/held"  # the role's home, not another site


def test_each_role_lands_on_its_home_and_sees_its_menu(store: CentralStore) -> None:
    homes = {
        "bg.nam": "/ui/held",
        "pq.hoang": "/ui/queue",
        "tech.duc": "/ui/fleet",
        "view.an": "/ui/gate",
        "ent.abc": "/ui/declarations",
    }
    with _client(store) as client:
        for user, home in homes.items():
            client.cookies.clear()
            response = client.post(
                "/ui/login", data={"username": user, "password": PASSWORD}, follow_redirects=False
            )
            assert response.headers["location"] == home
            page = client.get(home)
            assert page.status_code == 200, (user, page.text[:300])
            assert ('href="/ui/audit"' in page.text) == (USERS[user] in ("admin", "viewer"))


def test_the_held_console_shows_the_evidence_and_only_the_roles_actions(
    store: CentralStore,
) -> None:
    _gate(store)
    with _client(store) as client:
        _login(client, "bg.nam")
        page = client.get("/ui/held").text
        cards = re.findall(r'<article class="card" id="held-(\d+)"', page)
        assert len(cards) == 3  # the one opened by hand is no longer held
        assert "桂A00002" in page and "/api/crops/" in page
        assert "97 %" in page  # the reading's confidence
        assert "24,000 kg" in page and "24,500 kg" in page and "48,000 kg" in page
        assert "step not confirmed: plant quarantine" not in page  # reasons are the box's own
        assert "Open by hand" in page and 'sse-connect="/ui/held/stream"' in page
        assert "opened by hand by bg.nam" in page and "opened by itself" in page
        csrf = _login(client, "pq.hoang")
        page = client.get("/ui/held").text
        assert "Open by hand" not in page
        forced = client.post(
            f"/ui/held/{cards[0]}/open",
            data={"reason": "forced"},
            headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
        )
        assert forced.status_code == 403
        assert "may not" in forced.text
        assert store.audit.query(action="command:open") == []


def test_a_write_without_the_csrf_token_is_refused(store: CentralStore) -> None:
    box = _gate(store, held=1)
    held = store.crossings.list(held=True)[0][0]
    with _client(store) as client:
        _login(client, "bg.nam")
        refused = client.post(f"/ui/held/{held.id}/open", data={"reason": "no token"})
        assert refused.status_code == 403
        assert "CSRF" in refused.text
        assert box.seq > 0 and store.audit.query(action="command:open") == []


def test_an_officer_confirms_a_step_from_the_queue(store: CentralStore) -> None:
    _declare(store, f"{NOW:%Y%m%d}00077", "桂A77777", steps={"in_yard": StepFlag(done=True)})
    with _client(store) as client:
        csrf = _login(client, "pq.hoang")
        queue = client.get("/ui/queue").text
        assert "桂A77777" in queue and "plant quarantine" in queue
        done = client.post(
            f"/ui/declarations/{NOW:%Y%m%d}00077/steps/plant_quarantine",
            data={"note": "certificate PQ-1"},
            headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
        )
        assert done.status_code == 200 and "Step confirmed" in done.text
        assert "桂A77777" not in client.get("/ui/queue").text
        other = client.post(
            f"/ui/declarations/{NOW:%Y%m%d}00077/steps/customs_check",
            data={"note": ""},
            headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
        )
        assert other.status_code == 403  # customs' step, not plant quarantine's


def test_every_page_renders_for_the_roles_that_may_see_it_and_refuses_the_rest(
    store: CentralStore,
) -> None:
    _gate(store)
    crossing = store.crossings.list(limit=1)[0][0]
    number = f"{NOW:%Y%m%d}00001"
    pages = {
        "/ui/gate": {"view.an", "bg.nam", "tech.duc"},
        "/ui/held": {"view.an", "bg.nam", "pq.hoang"},
        "/ui/queue": {"pq.hoang", "cus.lan"},
        "/ui/declarations?plate=桂A00001": {"view.an", "cus.lan", "ent.abc"},
        f"/ui/declarations/{number}": {"view.an", "ent.abc"},
        "/ui/fleet": {"tech.duc", "view.an"},
        "/ui/audit": {"admin.minh", "view.an"},
        f"/ui/crossings/{crossing.id}": {"view.an", "bg.nam"},
    }
    refused = {
        "/ui/audit": {"bg.nam", "tech.duc"},
        "/ui/queue": {"bg.nam", "view.an"} - {"bg.nam"},
        "/ui/held": {"ent.abc"},
        "/ui/fleet": {"ent.abc"},
    }
    with _client(store) as client:
        for path, users in pages.items():
            for user in users:
                _login(client, user)
                response = client.get(path)
                assert response.status_code == 200, (path, user, response.text[:300])
                assert "Internal Server Error" not in response.text
        for path, users in refused.items():
            for user in users:
                _login(client, user)
                assert client.get(path).status_code == 403, (path, user)


def _statements(store: CentralStore) -> list[str]:
    """Every SQL statement central's connections run from now on."""
    seen: list[str] = []
    store.file.conn.set_trace_callback(seen.append)
    store.reads.trace(seen.append)
    return seen


@pytest.mark.parametrize(
    "path", ["/ui/held", "/ui/gate", "/ui/fleet", "/ui/declarations", "/ui/audit"]
)
def test_a_page_reads_the_same_number_of_times_for_3_rows_as_for_30(
    tmp_path: Path, path: str
) -> None:
    counts = []
    for n, name in ((3, "a"), (30, "b")):
        store = CentralStore(tmp_path / f"{name}.db", synchronous="NORMAL")
        store.accounts.add_user("view.an", "viewer", PASSWORD, language="en")
        _gate(store, held=n)
        with _client(store) as client:
            _login(client, "view.an")
            seen = _statements(store)
            assert client.get(path).status_code == 200
            counts.append(len([s for s in seen if s.lstrip().upper().startswith("SELECT")]))
        store.close()
    assert counts[0] == counts[1], counts


def test_the_vietnamese_pages_speak_vietnamese(store: CentralStore) -> None:
    _gate(store)
    store.accounts.set_language("bg.nam", "vi")
    with _client(store) as client:
        _login(client, "bg.nam")
        page = client.get("/ui/held").text
        assert '<html lang="vi">' in page
        for words in ("Xe bị giữ", "Mở bằng tay", "Đăng xuất", "Tờ khai"):
            assert words in page, words
        assert "Held trucks" not in page and "Open by hand" not in page


def test_every_word_of_the_ui_has_its_vietnamese_translation() -> None:
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    import central.ui
    from central.lifecycle import STEPS
    from central.ui.i18n import LOCALE_DIR, STEP_TITLES

    ui = Path(central.ui.__file__).parent
    methods = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    keywords = {"_": None, "N_": None, "gettext": None}
    found = {m for _f, _l, m, _c, _x in extract_from_dir(ui, methods, keywords=keywords)}
    assert len(found) > 150
    with (LOCALE_DIR / "vi" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    translated = {m.id: m.string for m in catalog if m.id}
    missing = sorted(str(m) for m in found if not translated.get(m))
    assert missing == [], "run scripts/ui-catalog and translate these"
    assert set(STEP_TITLES) == set(STEPS), "every step of the procedure has its words"


def test_every_ui_route_names_its_roles_and_refuses_anyone_logged_out(
    store: CentralStore,
) -> None:
    app = build_app(store, None)
    public = {"/ui", "/ui/login", "/ui/static"}
    walked = 0
    with TestClient(app) as client:
        for route in app.routes:
            if not route.path.startswith("/ui") or route.path.split("/{")[0] in public:
                continue
            for handler in getattr(route, "route_handlers", []):
                if set(handler.http_methods) <= {"OPTIONS", "HEAD"}:
                    continue  # Litestar's own answer to a preflight
                assert handler.opt.get("roles"), f"{route.path} names no roles"
                path = (
                    route.path.replace("{crossing_id:int}", "1")
                    .replace("{number:str}", "2026120100001")
                    .replace("{step:str}", "border_guard")
                )
                for method in handler.http_methods:
                    response = client.request(method, path, follow_redirects=False)
                    assert response.status_code in (303, 401), (method, path)
                    walked += 1
    assert walked >= 14


def test_the_console_stream_sends_only_what_changed(store: CentralStore) -> None:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from central.accounts import Principal
    from central.ui import TEMPLATES
    from central.ui.held import HeldStream, held_cards, recent_decisions
    from central.ui.pages import Ui

    box = _gate(store, held=2)
    ui = Ui(UiSettings())
    guard = Principal("bg.nam", "border_guard", None, "session", csrf="t", language="en")
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    stream = HeldStream(env, ui.words(guard), guard)

    def update() -> str:
        return stream.update(
            held_cards(store, ui, "border_guard", None), recent_decisions(store, None)
        )

    first = update()
    assert 'id="held-list" hx-swap-oob="innerHTML"' in first and first.count("<article") == 2
    assert "\n" not in first  # one SSE data line
    assert update().count("<article") == 0  # nothing changed: no card sent again
    box.truck(120, "桂A99999", hold=True, checkpoint="lane-9")  # a new hold
    new = update()
    assert new.count("<article") == 1 and "afterbegin:#held-list" in new and "桂A99999" in new
    box.truck(121, "桂A99999", checkpoint="lane-9")  # its lane decides again: it left
    gone = update()
    assert 'hx-swap-oob="delete"' in gone and "<article" not in gone


def test_live_consoles_are_limited_per_user_and_in_all() -> None:
    from central.ui.pages import Ui

    ui = Ui(UiSettings())
    assert all(ui.open_stream("a", 2, 3) for _ in range(2))
    assert not ui.stream_allowed("a", 2, 3) and not ui.open_stream("a", 2, 3)
    assert ui.open_stream("b", 2, 3)
    assert not ui.open_stream("c", 2, 3)  # 3 in all
    ui.close_stream("a")
    assert ui.open_stream("c", 2, 3)


def test_what_a_review_found_stays_fixed(store: CentralStore) -> None:
    box = _gate(store, held=1)
    held = store.crossings.list(at_lane=True)[0][0]
    number = f"{NOW:%Y%m%d}00088"
    _declare(store, number, "桂A88888", steps={"in_yard": StepFlag(done=True)})
    with _client(store) as client:
        csrf = _login(client, "bg.nam")
        htmx = {"X-CSRF-Token": csrf, "HX-Request": "true"}
        # the lane decided again since: an open for the old card would open another truck
        box.truck(200, "桂A12121", hold=True, checkpoint=held.checkpoint)
        stale = client.post(f"/ui/held/{held.id}/open", data={"reason": "x"}, headers=htmx)
        assert stale.status_code == 409 and "no longer held" in stale.text
        assert store.audit.query(action="command:open") == []
        # "any" in a filter is an empty value, not an error
        for path in (
            "/ui/gate?gate=&direction=",
            "/ui/declarations?status=&day=",
            "/ui/held?gate=",
        ):
            assert client.get(path).status_code == 200, path
        assert client.get("/ui/held?gate=bad gate").status_code == 400
        # the customs check needs its outcome, the fees their receipt: both from the page
        csrf = _login(client, "cus.lan")
        htmx = {"X-CSRF-Token": csrf, "HX-Request": "true"}
        for step in ("customs_arrival",):
            assert (
                client.post(
                    f"/ui/declarations/{number}/steps/{step}", data={}, headers=htmx
                ).status_code
                == 200
            )
        checked = client.post(
            f"/ui/declarations/{number}/steps/customs_check",
            data={"result": "match", "note": "seals intact"},
            headers=htmx,
        )
        assert checked.status_code == 200, checked.text
        confirmed = store.get_declaration(number)
        assert confirmed is not None and confirmed.steps["customs_check"].result == "match"
        # an impossible day is a clear refusal, not a 500
        _login(client, "view.an")
        assert client.get("/ui/audit?since=2024-02-30").status_code == 400
        # an enterprise sees its declaration, not the gate's crossings of it
        _login(client, "ent.abc")
        page = client.get(f"/ui/declarations/{NOW:%Y%m%d}00000").text
        assert "Crossings" not in page and "29H" not in page
        # another site's form cannot log this browser in
        client.cookies.clear()
        forged = client.post(
            "/ui/login",
            data={"username": "bg.nam", "password": PASSWORD},
            headers={"Sec-Fetch-Site": "cross-site"},
            follow_redirects=False,
        )
        assert forged.status_code == 403


def test_a_logged_out_action_returns_to_its_page_after_login(store: CentralStore) -> None:
    with _client(store) as client:
        answer = client.post(
            "/ui/held/1/open",
            data={"reason": "x"},
            headers={"HX-Request": "true", "HX-Current-URL": "http://central/ui/held?gate=CKHN"},
        )
        assert answer.status_code == 401
        assert answer.headers["HX-Redirect"] == "/ui/login?next=/ui/held"
