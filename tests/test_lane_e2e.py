"""The lane end to end: real Mosquitto, central, a box process, simulators on ptys and MJPEG."""

from __future__ import annotations

import time
from pathlib import Path

from simulators.scenario import Scenario, ScenarioRun, Truck, load_scenario
from testkit import ROOT, wait_for
from testkit.crossings import fetch
from testkit.mosquitto import Mosquitto
from testkit.processes import Central

SCENARIOS = ROOT / "simulators" / "scenarios"


def crossings(central: Central) -> list[dict[str, object]]:
    return list(central.get("/api/crossings?limit=1000")["items"])


def test_a_morning_of_24_trucks_gets_every_decision_right(
    tmp_path: Path, mosquitto: Mosquitto, central: Central
) -> None:
    scenario = load_scenario(SCENARIOS / "huu-nghi-morning.toml")
    run = ScenarioRun(
        scenario,
        central_url=central.url,
        token=central.token("admin"),
        mqtt_port=mosquitto.port,
        workdir=tmp_path,
        log=lambda _: None,
    )
    try:
        run.start()
        report = run.run()
        # every crossing reaches central (while the box still runs: it is the box that sends)
        wait_for(lambda: len(crossings(central)) == 24, 30, "24 crossings at central")
    finally:
        run.stop()
    assert len(report.outcomes) == 24
    assert report.correct == 24, report.text()
    assert report.closes_while_occupied == 0
    # ... with its plate crop and, at the weighbridge, its weight
    token = central.token("viewer")
    for crossing in crossings(central):
        status, kind, jpeg = fetch(central.url + str(crossing["crop_url"]), token)
        assert (status, kind) == (200, "image/jpeg") and jpeg[:2] == b"\xff\xd8", crossing
        assert crossing["weight_kg"] is not None
    held = central.get("/api/crossings?decision=hold&limit=100")["items"]
    assert len(held) == sum(t.expect == "hold" for t in scenario.trucks)


def test_the_same_day_with_the_broker_down_for_the_middle_third(
    tmp_path: Path, mosquitto: Mosquitto, central: Central
) -> None:
    scenario = load_scenario(SCENARIOS / "tan-thanh-outage.toml")
    assert scenario.outages
    run = ScenarioRun(
        scenario,
        central_url=central.url,
        token=central.token("admin"),
        mqtt_port=mosquitto.port,
        workdir=tmp_path,
        broker_down=mosquitto.stop,
        broker_up=mosquitto.start,
        device="tt-box",
        log=lambda _: None,
    )
    try:
        run.start()
        report = run.run()
        last = run._last_seq()
        # the backlog of the outage drains once the box has reconnected (its back-off may have
        # grown to reconnect_max_s): wait while the box still runs, since it is what resends
        wait_for(lambda: central.acked("tt-box") >= last, 60, "every event at central")
    finally:
        run.stop()
    assert report.correct == len(scenario.trucks), report.text()
    assert report.closes_while_occupied == 0
    assert len(central.stored_events("tt-box")) >= last
    assert len(crossings(central)) == len(scenario.trucks)


def _one_truck_scenario() -> Scenario:
    return Scenario(
        name="stuck barrier",
        gate="CKHN",
        protocol="",
        policy={"checkpoint": "barrier-in", "kind": "barrier-in"},
        trucks=[
            Truck(plate="12C-345.67", expect="open"),
            Truck(plate="29C-888.12", declared=False, expect="hold"),
        ],
    )


def test_a_stuck_barrier_faults_the_lane_until_staff_reset_it(
    tmp_path: Path, mosquitto: Mosquitto, central: Central
) -> None:
    run = ScenarioRun(
        _one_truck_scenario(),
        central_url=central.url,
        token=central.token("admin"),
        mqtt_port=mosquitto.port,
        workdir=tmp_path,
        device="stuck-box",
        log=lambda _: None,
    )
    try:
        run.start()
        run.barrier.set_fault("stuck")
        run.camera.show("12C-345.67")
        run.barrier.set_vehicle(True)
        wait_for(lambda: run._lane_state() == "fault", 30, "the lane in fault")
        opens = [r for r in run.barrier.received if r.relay == 0]
        assert len(opens) == 1
        wait_for(
            lambda: central.get("/api/events?kind=device_fault&device=stuck-box")["items"],
            20,
            "the fault at central",
        )
        faults = central.get("/api/events?kind=device_fault&device=stuck-box")["items"]
        assert "open limit" in faults[0]["message"]
        # nothing more is commanded while faulted, whatever arrives
        run.barrier.set_vehicle(False)
        time.sleep(0.5)
        run.barrier.set_vehicle(True)
        time.sleep(1.0)
        assert len([r for r in run.barrier.received if r.relay == 0]) == 1
        assert run._lane_state() == "fault"
        # staff reset it from central once the technician fixed the arm
        run.barrier.set_fault("none")
        run.barrier.set_vehicle(False)
        status, body = central.send(
            "POST",
            "/api/devices/stuck-box/commands",
            {"action": "reset_fault", "checkpoint": "barrier-in"},
            role="technician",
        )
        assert status == 202 and body["published"]
        wait_for(lambda: run._lane_state() == "idle", 20, "the lane back to idle")
    finally:
        run.stop()


def test_staff_open_a_held_lane_once_and_it_is_recorded(
    tmp_path: Path, mosquitto: Mosquitto, central: Central
) -> None:
    run = ScenarioRun(
        _one_truck_scenario(),
        central_url=central.url,
        token=central.token("admin"),
        mqtt_port=mosquitto.port,
        workdir=tmp_path,
        device="held-box",
        log=lambda _: None,
    )
    try:
        run.start()
        run.camera.show("29C-888.12")
        run.barrier.set_vehicle(True)
        wait_for(lambda: run._lane_state() == "held", 30, "the lane holding the truck")
        guard = central.login("guard.le", "border_guard")
        code, body = central.send(
            "POST",
            "/api/devices/held-box/commands",
            {"action": "open", "checkpoint": "barrier-in"},
            role=None,
            headers=guard,
        )
        assert code == 400 and "reason" in body["detail"]
        # who opened is the caller, never a field of the request
        code, body = central.send(
            "POST",
            "/api/devices/held-box/commands",
            {"action": "open", "by": "chief.inspector", "reason": "x", "checkpoint": "barrier-in"},
            role=None,
            headers=guard,
        )
        assert code == 422 and "`by`" in body["extra"][0]["message"], body
        code, _ = central.send(
            "POST",
            "/api/devices/held-box/commands",
            {"action": "open", "reason": "escorted", "checkpoint": "barrier-in"},
            role="technician",
        )
        assert code == 403, "a technician does not run a checkpoint"
        code, body = central.send(
            "POST",
            "/api/devices/held-box/commands",
            {"action": "open", "reason": "escorted", "checkpoint": "barrier-in"},
            role=None,
            headers=guard,
        )
        assert code == 202
        wait_for(lambda: run.barrier.state()["open_limit"], 20, "the barrier open")
        run.barrier.set_vehicle(False)
        wait_for(lambda: run._lane_state() == "idle", 20, "the lane idle")
        overrides = wait_for(
            lambda: central.get("/api/events?kind=manual_override&device=held-box")["items"],
            20,
            "the override at central",
        )
        assert overrides[0]["by"] == "guard.le" and overrides[0]["reason"] == "escorted"
        assert overrides[0]["command_id"] == body["command"]["id"]
        audit = central.get("/api/audit?action=command:open")
        assert audit[0]["actor"] == "guard.le" and audit[0]["object"] == "device:held-box"
        assert len([r for r in run.barrier.received if r.relay == 0]) == 1
    finally:
        run.stop()


def test_a_local_operator_opens_a_held_lane_with_the_link_down(
    tmp_path: Path, mosquitto: Mosquitto, central: Central
) -> None:
    import subprocess
    import sys

    run = ScenarioRun(
        _one_truck_scenario(),
        central_url=central.url,
        token=central.token("admin"),
        mqtt_port=mosquitto.port,
        workdir=tmp_path,
        device="local-box",
        log=lambda _: None,
    )
    try:
        run.start()
        mosquitto.stop()  # no central: the operator at the box decides
        run.camera.show("29C-888.12")
        run.barrier.set_vehicle(True)
        wait_for(lambda: run._lane_state() == "held", 30, "the lane holding the truck")
        config = tmp_path / "local-box.toml"

        def operator(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "cuakhau",
                    "agent",
                    "operator",
                    "--config",
                    str(config),
                    "--checkpoint",
                    "barrier-in",
                    *args,
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )

        refused = operator("--action", "open", "--by", "op.nguyen")
        assert refused.returncode == 2 and "--reason" in refused.stderr
        done = operator("--action", "open", "--by", "op.nguyen", "--reason", "driver has papers")
        assert done.returncode == 0 and done.stdout.strip() == "opening"
        wait_for(lambda: run.barrier.state()["open_limit"], 20, "the barrier open")
        run.barrier.set_vehicle(False)
        wait_for(lambda: run._lane_state() == "idle", 20, "the lane idle")
        again = operator("--action", "open", "--by", "op.nguyen", "--reason", "again")
        assert again.returncode == 1 and "ignored: the lane is idle" in again.stdout
        mosquitto.start()
        overrides = wait_for(
            lambda: central.get("/api/events?kind=manual_override&device=local-box")["items"],
            30,
            "the override at central once the link is back",
        )
        assert overrides[0]["by"] == "op.nguyen"
        assert overrides[0]["command_id"].startswith("local-")
    finally:
        run.stop()


def test_testers_run_a_shipped_scenario_from_the_command_line() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "cuakhau", "sim", "scenario", str(SCENARIOS / "yard-in-full.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "6/6 decisions as expected" in result.stdout
    assert "yard_full" in result.stdout
