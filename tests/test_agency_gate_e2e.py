"""The agencies and the gate together: real Mosquitto, central, a box process and simulated
devices. An officer's confirmation at central opens a held barrier by itself; a returned
declaration makes the barrier hold; a manual open names the officer who gave it."""

from __future__ import annotations

from pathlib import Path

from simulators.scenario import Scenario, ScenarioRun, Truck
from testkit import wait_for
from testkit.mosquitto import Mosquitto
from testkit.processes import Central

PLATE = "29H-888.12"


def _scenario() -> Scenario:
    return Scenario(
        name="agencies at barrier 1",
        gate="CKHN",
        protocol="",
        policy={
            "checkpoint": "barrier-in",
            "kind": "barrier-in",
            "required_steps": ["border_guard"],
        },
        trucks=[Truck(plate=PLATE, expect="hold", quarantine=["plant"], steps=["border_guard"])],
    )


def test_an_officers_confirmation_opens_the_held_barrier_and_a_return_holds_it_again(
    tmp_path: Path, mosquitto: Mosquitto, central: Central
) -> None:
    run = ScenarioRun(
        _scenario(),
        central_url=central.url,
        token=central.token("admin"),
        mqtt_port=mosquitto.port,
        workdir=tmp_path,
        device="agency-box",
        log=lambda _: None,
    )
    try:
        run.start()
        number = central.get(f"/api/declarations/?plate={PLATE}")["items"][0]["number"]
        run.camera.show(PLATE)
        run.barrier.set_vehicle(True)
        wait_for(lambda: run._lane_state() == "held", 30, "the truck held")
        held = wait_for(
            lambda: central.get("/api/crossings?decision=hold")["items"], 20, "the hold at central"
        )
        assert any("step_missing:plant_quarantine" in r for r in held[0]["reasons"])

        # The plant quarantine officer confirms at central; nobody touches the box.
        officer = central.login("pq.hoang", "plant_quarantine")
        code, body = central.send(
            "POST",
            f"/api/declarations/{number}/steps/plant_quarantine",
            {"note": "dragon fruit, certificate PQ-2026-0412"},
            role=None,
            headers=officer,
        )
        assert code == 200, body
        wait_for(lambda: run.barrier.state()["open_limit"], 20, "the barrier to open by itself")
        run.barrier.set_vehicle(False)
        wait_for(lambda: run._lane_state() == "idle", 20, "the lane idle")
        assert (
            central.get("/api/events?kind=manual_override&device=agency-box", role="viewer")[
                "items"
            ]
            == []
        ), "it opened by its rule, not by hand"
        decisions = wait_for(
            lambda: [
                c
                for c in central.get("/api/crossings?limit=10")["items"]
                if c["decision"] == "open"
            ],
            20,
            "the open decision at central",
        )
        assert decisions[0]["declaration"] == number

        # Customs returns the declaration: the same truck comes back and is held.
        code, _ = central.send(
            "POST",
            f"/api/declarations/{number}/return",
            {"reason": "seal number differs"},
            role="customs",
        )
        assert code == 200
        opened = len([r for r in run.barrier.received if r.relay == 0])
        wait_for(
            lambda: (
                central.get(f"/api/declarations/{number}")["declaration"]["status"] == "returned"
            ),
            10,
            "returned at central",
        )
        run.barrier.set_vehicle(True)
        wait_for(lambda: run._lane_state() == "held", 30, "the returned truck held")
        assert len([r for r in run.barrier.received if r.relay == 0]) == opened

        # A border guard opens it by hand, with a reason: the box and the audit name the guard.
        guard = central.login("bg.dang", "border_guard")
        code, body = central.send(
            "POST",
            "/api/devices/agency-box/commands",
            {
                "action": "open",
                "reason": "returned in error, customs on the phone",
                "checkpoint": "barrier-in",
            },
            role=None,
            headers=guard,
        )
        assert code == 202, body
        wait_for(lambda: run.barrier.state()["open_limit"], 20, "the barrier open by hand")
        overrides = wait_for(
            lambda: central.get("/api/events?kind=manual_override&device=agency-box")["items"],
            20,
            "the override at central",
        )
        assert overrides[0]["by"] == "bg.dang"
        audit = central.get("/api/audit?actor=bg.dang", role="viewer")
        assert audit[0]["action"] == "command:open" and audit[0]["object"] == "device:agency-box"
        steps = central.get("/api/audit?action=step:plant_quarantine", role="viewer")
        assert steps[0]["actor"] == "pq.hoang"
    finally:
        run.stop()
