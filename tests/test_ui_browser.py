"""The staff UI in a real browser (Playwright driving Debian's Chromium) against a real central,
a real Mosquitto and a gate box running its lane on simulated camera, weighbridge and barrier.

Screenshots of each main page at 1366×768 land in ``test-artifacts/screenshots/`` (the README
shows committed copies of the main ones)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from simulators.scenario import Scenario, ScenarioRun, Truck
from testkit import wait_for
from testkit.mosquitto import Mosquitto
from testkit.processes import Central

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}
PASSWORD = "gate staff password 2026"
PLATE = "29H-888.12"
TYPO = "29H-888.13"  # the plate as the enterprise typed it
TAX_CODE = "0101234567"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (scripts/test does)"
)


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []  # root: Chromium's sandbox refuses
        b = p.chromium.launch(executable_path=CHROMIUM, args=args)
        yield b
        b.close()


def _page(browser: Any, central: Central) -> Any:
    context = browser.new_context(viewport=VIEWPORT, base_url=central.url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def _login(page: Any, user: str) -> None:
    page.goto("/ui/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/ui/login" not in url)


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _lane(tmp_path: Path, central: Central, mosquitto: Mosquitto) -> ScenarioRun:
    scenario = Scenario(
        name="staff console",
        gate="CKHN",
        protocol="",
        policy={
            "checkpoint": "barrier-in",
            "kind": "barrier-in",
            "required_steps": ["border_guard"],
            "allowed_status": ["accepted"],
        },
        trucks=[],
    )
    return ScenarioRun(
        scenario,
        central_url=central.url,
        token=central.token("admin"),
        mqtt_port=mosquitto.port,
        workdir=tmp_path,
        device="hn-lane1",
        log=lambda _: None,
    )


def test_a_guard_sees_a_held_truck_live_and_the_fixed_declaration_opens_it_next_time(
    tmp_path: Path, mosquitto: Mosquitto, central: Central, browser: Any
) -> None:
    number = f"{datetime.now(UTC):%Y%m%d}00042"
    central.declare(
        {
            "number": number,
            "direction": "import",
            "gate": "CKHN",
            "plate": TYPO,
            "nationality": "VN",
            "declared_weight_kg": 18_000,
            "enterprise": TAX_CODE,
            "status": "accepted",
        }
    )
    central.add_user("bg.nam", "border_guard", PASSWORD, language="en")
    run = _lane(tmp_path, central, mosquitto)
    truck = Truck(plate=PLATE, expect="hold", declared=False)
    try:
        run.start()
        page = _page(browser, central)
        _login(page, "bg.nam")
        assert page.url.endswith("/ui/held")
        page.evaluate("window.__same_page = true")  # gone if the page were ever reloaded
        page.wait_for_selector("#held-list", state="attached")

        # The truck arrives; the box holds it (no declaration for the plate it reads).
        held = run.drive(1, truck)
        assert held.decision == "hold" and held.reasons[0].startswith("unknown_plate")
        card = page.locator(f'#held-list article[data-plate="{PLATE}"]')
        card.wait_for(state="visible")
        assert page.evaluate("window.__same_page") is True, "the card came without a reload"
        crop = card.locator(".crop img")
        assert crop.evaluate("img => img.complete && img.naturalWidth > 0"), "the plate crop"
        assert "no declaration for this plate" in card.inner_text()
        assert "Open by hand" in card.inner_text()
        _shot(page, "held-console")

        # The guard finds the declaration the enterprise mistyped and returns it.
        page.goto(f"/ui/declarations?plate={TYPO}")
        page.click(f'a[href="/ui/declarations/{number}"]')
        page.fill('form[hx-post$="/return"] input[name=reason]', f"the truck is {PLATE}")
        page.click('form[hx-post$="/return"] button')
        page.wait_for_selector("text=Declaration returned to the enterprise.")
        assert central.get(f"/api/declarations/{number}")["declaration"]["status"] == "returned"

        # The enterprise re-submits it, corrected, through the API.
        enterprise = central.token("enterprise", tax_code=TAX_CODE)
        code, body = central.send(
            "PUT",
            f"/api/declarations/{number}",
            {
                "number": number,
                "direction": "import",
                "gate": "CKHN",
                "plate": PLATE,
                "nationality": "VN",
                "declared_weight_kg": 18_000,
            },
            token=enterprise,
        )
        assert code == 200, body

        # The guard accepts it and confirms the border guard's step.
        page.goto(f"/ui/declarations/{number}")
        page.click('form[hx-post$="/accept"] button')
        page.wait_for_selector("text=Declaration accepted")
        page.goto(f"/ui/declarations/{number}")
        page.click('form[hx-post$="/steps/border_guard"] button')
        page.wait_for_selector("text=Step confirmed")
        page.reload()
        assert "✓" in page.inner_text("main")  # the step shows done, with who did it
        _shot(page, "declaration")

        # Back on the console when the truck comes again: it opens by itself.
        page.goto("/ui/held")
        page.evaluate("window.__same_page = true")
        wait_for(
            lambda: run._cached_declarations() and _box_has_plate(run), 20, "the fix at the box"
        )
        opened = run.drive(2, Truck(plate=PLATE, expect="open", declared=False))
        assert opened.decision == "open", opened.reasons
        row = page.locator(f'#recent-list li[data-plate="{PLATE}"]').first
        row.wait_for(state="visible")
        page.wait_for_selector(f'#recent-list li[data-plate="{PLATE}"] .tag.ok')
        assert "opened by itself" in row.inner_text()
        page.locator(f'#held-list article[data-plate="{PLATE}"]').wait_for(state="detached")
        assert page.evaluate("window.__same_page") is True
        _shot(page, "held-console-opened")
        for path, name in (("/ui/gate", "gate-picture"), ("/ui/fleet", "fleet")):
            page.goto(path)
            _shot(page, name)
        assert "hn-lane1" in page.inner_text("main")

        # The crossing's page: its timeline and the audit rows of who did what.
        page.goto("/ui/held")
        page.click(f'#recent-list li[data-plate="{PLATE}"] a.plate')
        page.wait_for_selector("text=Timeline")
        text = page.inner_text("main")
        assert "lane_decision" in text and "barrier_actuated" in text
        _shot(page, "crossing")
    finally:
        run.stop()


def _box_has_plate(run: ScenarioRun) -> bool:
    rows = run._query("SELECT body FROM declarations")
    return any(
        PLATE.encode() in bytes(r[0]) if isinstance(r[0], bytes) else PLATE in r[0] for r in rows
    )


def test_a_plant_quarantine_officer_has_no_manual_open_and_is_refused_if_forced(
    tmp_path: Path, mosquitto: Mosquitto, central: Central, browser: Any
) -> None:
    central.add_user("pq.hoang", "plant_quarantine", PASSWORD, language="en")
    run = _lane(tmp_path, central, mosquitto)
    try:
        run.start()
        held = run.drive(1, Truck(plate="51D-123.45", expect="hold", declared=False))
        assert held.decision == "hold"
        page = _page(browser, central)
        _login(page, "pq.hoang")
        assert page.url.endswith("/ui/queue")
        page.goto("/ui/held")
        card = page.locator('#held-list article[data-plate="51D-123.45"]')
        card.wait_for(state="visible")
        assert page.locator("text=Open by hand").count() == 0
        crossing = card.get_attribute("id").removeprefix("held-")
        status = page.evaluate(
            """async (id) => {
                const headers = JSON.parse(document.body.getAttribute("hx-headers"));
                const r = await fetch(`/ui/held/${id}/open`, {method: "POST", headers: {
                    ...headers, "HX-Request": "true",
                    "Content-Type": "application/x-www-form-urlencoded"}, body: "reason=forced"});
                return [r.status, await r.text()];
            }""",
            crossing,
        )
        assert status[0] == 403, status
        assert "may not" in status[1]
        assert central.get("/api/audit?action=command:open", role="viewer") == []
    finally:
        run.stop()


def test_the_pages_speak_vietnamese_and_switch_to_english(
    tmp_path: Path, mosquitto: Mosquitto, central: Central, browser: Any
) -> None:
    central.add_user("admin.minh", "admin", PASSWORD)  # Vietnamese by default
    page = _page(browser, central)
    page.goto("/ui/held")
    assert "/ui/login" in page.url  # not logged in: to the login page
    assert "Đăng nhập" in page.inner_text("main")
    _shot(page, "login")
    page.fill("input[name=username]", "admin.minh")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/held")  # back to the page that sent the browser to log in
    nav = page.inner_text("header nav")
    for words in ("Tình hình cửa khẩu", "Xe bị giữ", "Tờ khai", "Thiết bị", "Nhật ký"):
        assert words in nav, words
    assert "Held trucks" not in page.inner_text("body")
    for path, name in (
        ("/ui/gate", "gate-picture-vi"),
        ("/ui/fleet", "fleet-vi"),
        ("/ui/declarations", "declarations-vi"),
        ("/ui/audit", "audit-vi"),
    ):
        page.goto(path)
        assert page.locator("footer").inner_text().startswith("Thời gian")
        _shot(page, name)
    # on a tablet held upright the console's cards stack and nothing runs off the screen
    page.set_viewport_size({"width": 820, "height": 1180})
    page.goto("/ui/held")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    _shot(page, "held-console-tablet-vi")
    page.set_viewport_size(VIEWPORT)
    page.select_option("#language", "en")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert "Gate picture" in page.inner_text("header nav")
    page.goto("/ui/gate")
    assert "Trucks per hour" in page.inner_text("main")
