"""Drivers against simulated devices over real pseudo-terminals."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.config import BarrierConfig, LaneConfig
from edge_agent.devices.barrier.controller import BarrierController
from edge_agent.devices.barrier.gpio import GpioBarrier
from edge_agent.devices.barrier.modbus_rtu import ModbusRelayBarrier
from edge_agent.devices.readings import BarrierPosition
from edge_agent.devices.scale.protocols import make_parser
from edge_agent.devices.scale.reader import ScaleReader
from edge_agent.devices.serial_port import SerialSettings
from edge_agent.lane.assembly import Lanes
from edge_agent.lane.machine import Lane
from edge_agent.lane.policy import Policy
from edge_agent.store import EdgeStore
from protocol.messages import BarrierActuated, DeviceFault
from simulators.barrier.simulator import BarrierSimulator
from simulators.scale.simulator import PROTOCOLS, ScaleSimulator
from testkit import ROOT, wait_for


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_truck_settling_on_the_scale_gives_a_stable_reading_within_2_s(protocol: str) -> None:
    sim = ScaleSimulator(protocol, rate_hz=15, ramp_s=1.0, settle_s=0.8)
    sim.start()
    reader = ScaleReader(SerialSettings(url=sim.path), make_parser(protocol))
    reader.start()
    try:
        sim.set_weight(24560)
        settled = sim.settled_at()
        # the empty scale is stable too (at 0 kg): wait for the truck, loaded
        reading = reader.wait_for(lambda r: r.stable and (r.kg or 0) > 1000, 10)
        assert reading is not None, f"no stable reading; rejected {reader.parser.rejected}"
        assert reading.kg == pytest.approx(24560)
        assert time.monotonic() - settled <= 2.0
        assert reading.protocol.startswith(protocol.split("-")[0])
    finally:
        reader.stop()
        sim.stop()


@pytest.mark.parametrize("protocol", ["xk3190", "toledo", "stgs", "mtsics"])
def test_the_reader_rides_through_garbage_torn_frames_bad_checksums_and_silence(
    protocol: str,
) -> None:
    sim = ScaleSimulator(protocol, rate_hz=20, ramp_s=0.1, settle_s=0.1)
    sim.start()
    reader = ScaleReader(SerialSettings(url=sim.path), make_parser(protocol), poll_interval_s=0.05)
    reader.start()
    try:
        sim.set_weight(18000)
        assert reader.wait_for(lambda r: r.stable and r.kg == 18000, 5)
        for fault in ("garbage", "torn", "bad_checksum", "garbage", "torn"):
            sim.inject(fault)
        sim.inject("silence", 1.0)
        time.sleep(1.2)
        sim.set_weight(32000)
        assert reader.wait_for(lambda r: r.stable and r.kg == 32000, 5), reader.parser.rejected
        assert reader.parser.rejected_total >= 1
        assert reader.connected
    finally:
        reader.stop()
        sim.stop()


def test_overload_is_reported_not_read_as_a_weight() -> None:
    sim = ScaleSimulator("toledo", rate_hz=20)
    sim.start()
    reader = ScaleReader(SerialSettings(url=sim.path), make_parser("toledo"))
    reader.start()
    try:
        sim.set_overload()
        reading = reader.wait_for(lambda r: r.status == "overload", 5)
        assert reading is not None and reading.kg is None and not reading.stable
    finally:
        reader.stop()
        sim.stop()


@pytest.fixture
def barrier_sim() -> Iterator[BarrierSimulator]:
    sim = BarrierSimulator(travel_s=0.3)
    sim.start()
    yield sim
    sim.stop()


def modbus_barrier(sim: BarrierSimulator, confirm_s: float = 2.0) -> ModbusRelayBarrier:
    return ModbusRelayBarrier(BarrierConfig(url=sim.path, confirm_timeout_s=confirm_s))


def test_the_barrier_opens_and_the_open_limit_confirms_it(
    tmp_path: Path, barrier_sim: BarrierSimulator
) -> None:
    store = EdgeStore(tmp_path / "box.db")
    driver = modbus_barrier(barrier_sim)
    barrier = BarrierController(driver, store, "barrier-in")
    assert barrier.driver.position() is BarrierPosition.CLOSED
    result = barrier.open("12C34567")
    assert result.ok and result.outcome == "confirmed"
    assert barrier.driver.position() is BarrierPosition.OPEN
    # The open pulse is a board-timed flash: the relay drops by itself.
    assert barrier_sim.received[-1].value == 5  # 0.5 s in tenths
    time.sleep(0.6)
    assert driver.read_relays() == [False] * 8  # the board ended the pulse (FC01 read)
    (event,) = store.read()
    assert isinstance(event, BarrierActuated) and event.confirmed and event.plate == "12C34567"
    assert barrier.close().ok
    assert barrier.driver.position() is BarrierPosition.CLOSED


def test_presence_on_the_loop_blocks_every_close_command(
    tmp_path: Path, barrier_sim: BarrierSimulator
) -> None:
    store = EdgeStore(tmp_path / "box.db")
    barrier = BarrierController(modbus_barrier(barrier_sim), store, "barrier-in")
    assert barrier.open().ok
    barrier_sim.set_vehicle(True)
    for _ in range(3):
        assert barrier.close().outcome == "refused_presence"
    assert barrier_sim.closes_while_occupied() == []
    assert not any(r.is_close for r in barrier_sim.received)
    barrier_sim.set_vehicle(False)
    assert barrier.close().ok


def test_a_vehicle_entering_while_the_arm_comes_down_reopens_it(
    barrier_sim: BarrierSimulator,
) -> None:
    barrier_sim.travel_s = 1.5
    driver = modbus_barrier(barrier_sim, confirm_s=5)
    assert driver.open().ok
    import threading

    threading.Timer(0.3, barrier_sim.set_vehicle, args=(True,)).start()
    result = driver.close()
    assert result.outcome == "reversed_presence"
    time.sleep(1.7)
    assert driver.read_inputs().open_limit


def test_a_stuck_barrier_raises_a_fault_event_and_refuses_until_reset(
    tmp_path: Path, barrier_sim: BarrierSimulator
) -> None:
    store = EdgeStore(tmp_path / "box.db")
    barrier = BarrierController(modbus_barrier(barrier_sim, confirm_s=1.0), store, "barrier-out")
    barrier_sim.set_fault("stuck")
    result = barrier.open("29H88812")
    assert result.outcome == "fault" and "open limit" in result.detail
    commands = len(barrier_sim.received)
    assert barrier.open().outcome == "refused_fault"
    assert len(barrier_sim.received) == commands, "a faulted barrier got another command"
    kinds = [type(e) for e in store.read()]
    assert kinds == [BarrierActuated, DeviceFault]
    fault = store.read()[1]
    assert isinstance(fault, DeviceFault) and fault.checkpoint == "barrier-out"
    barrier_sim.set_fault("none")
    barrier.driver.reset()
    assert barrier.open().ok


def test_lost_communication_never_closes(tmp_path: Path, barrier_sim: BarrierSimulator) -> None:
    store = EdgeStore(tmp_path / "box.db")
    driver = modbus_barrier(barrier_sim)
    barrier = BarrierController(driver, store, "barrier-in")
    assert barrier.open().ok
    barrier_sim.set_fault("silent")
    result = barrier.close()
    assert result.outcome == "comm_lost"
    assert not any(r.is_close for r in barrier_sim.received)
    assert isinstance(store.read()[-1], DeviceFault)


def test_stopping_the_lanes_closes_the_barrier_port(
    tmp_path: Path, barrier_sim: BarrierSimulator
) -> None:
    store = EdgeStore(tmp_path / "box.db")
    driver = modbus_barrier(barrier_sim)
    lane = Lane(
        LaneConfig(
            policy=Policy(checkpoint="barrier-in", kind="barrier-in"),
            barrier=BarrierConfig(url=barrier_sim.path),
        ),
        store,
        BarrierController(driver, store, "barrier-in"),
    )
    lanes = Lanes(lanes=[lane])
    lanes.start()
    try:
        # the lane watches the loop through the board: the port is open while it runs
        port = wait_for(lambda: driver._port, 5, "the lane to open the barrier's port")
        assert port.is_open
    finally:
        lanes.stop()
    assert not port.is_open
    assert driver._port is None


def test_gpio_barrier_follows_the_same_rules(tmp_path: Path) -> None:
    lines = {n: tmp_path / n for n in ("open", "close", "loop", "open_lim", "closed_lim")}
    for name, path in lines.items():
        path.write_text("1" if name == "closed_lim" else "0")
    settings = BarrierConfig(
        type="gpio",
        gpio={
            "open": str(lines["open"]),
            "close": str(lines["close"]),
            "loop": str(lines["loop"]),
            "open_limit": str(lines["open_lim"]),
            "closed_limit": str(lines["closed_lim"]),
        },
        pulse_s=0.05,
        confirm_timeout_s=0.5,
    )
    barrier = GpioBarrier(settings)
    assert barrier.position() is BarrierPosition.CLOSED
    assert barrier.open().outcome == "fault"  # nothing moved the limit switches
    barrier.reset()
    lines["loop"].write_text("1")
    assert barrier.close().outcome == "refused_presence"
    assert lines["close"].read_text() == "0"
    lines["loop"].write_text("garbage")
    assert barrier.close().outcome == "comm_lost"


@pytest.mark.parametrize("protocol", ["xk3190", "toledo", "mtsics", "stgs"])
def test_probe_finds_the_protocol_of_a_simulated_indicator(protocol: str) -> None:
    sim = ScaleSimulator(protocol, rate_hz=15)
    sim.start()
    sim.set_weight(24560)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "cuakhau", "probe", "scale", sim.path, "--listen", "1"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["protocol"] == protocol and found["baudrate"] == 9600


def test_probe_says_when_nothing_is_heard(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cuakhau", "probe", "scale", str(tmp_path / "ttyNONE")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "cannot use" in result.stderr


def test_testers_drive_the_simulators_from_the_command_line() -> None:
    import urllib.request

    def start(*args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cuakhau", "sim", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        return proc, json.loads(proc.stdout.readline())

    def post(url: str, body: dict[str, object]) -> dict[str, object]:
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            return dict(json.loads(response.read()))

    scale, scale_info = start("scale", "--protocol", "stgs", "--rate", "20")
    barrier, barrier_info = start("barrier", "--travel", "0.2")
    reader = ScaleReader(SerialSettings(url=scale_info["pty"]), make_parser("stgs"))
    reader.start()
    try:
        assert post(scale_info["control"] + "/weight", {"kg": 31500})["ok"]
        assert reader.wait_for(lambda r: r.stable and r.kg == 31500, 8)
        driver = ModbusRelayBarrier(BarrierConfig(url=barrier_info["pty"]))
        post(barrier_info["control"] + "/vehicle", {"present": True})
        assert driver.read_inputs().vehicle_present
        assert driver.close().outcome == "refused_presence"
        import urllib.error

        with pytest.raises(urllib.error.HTTPError) as bad:
            post(barrier_info["control"] + "/fault", {"mode": "banana"})
        assert bad.value.code == 400
    finally:
        reader.stop()
        for proc in (scale, barrier):
            proc.terminate()
            proc.wait(timeout=10)
