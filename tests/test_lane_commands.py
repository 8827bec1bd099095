"""Commands that reach a lane late must not open the barrier for another truck."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge_agent.config import BarrierConfig, LaneConfig
from edge_agent.devices.barrier.controller import BarrierController
from edge_agent.devices.barrier.modbus_rtu import ModbusRelayBarrier
from edge_agent.lane.assembly import Lanes
from edge_agent.lane.machine import Lane, State
from edge_agent.lane.policy import Policy
from edge_agent.store import EdgeStore
from protocol.messages import Command
from simulators.barrier.simulator import BarrierSimulator


def test_an_open_command_delivered_late_is_refused(tmp_path: Path) -> None:
    sim = BarrierSimulator()
    sim.start()
    try:
        store = EdgeStore(tmp_path / "box.db")
        barrier = BarrierConfig(url=sim.path)
        driver = ModbusRelayBarrier(barrier)
        lane = Lane(
            LaneConfig(policy=Policy(checkpoint="barrier-in", kind="barrier-in"), barrier=barrier),
            store,
            BarrierController(driver, store, "barrier-in"),
        )
        lanes = Lanes(lanes=[lane])
        lane.state = State.HELD  # a truck is held now

        def command(age_s: float) -> Command:
            return Command(
                id="c1",
                device="box",
                action="open",
                by="staff",
                reason="x",
                checkpoint="barrier-in",
                at=datetime.now(UTC) - timedelta(seconds=age_s),
            )

        assert lanes.on_command(command(600)) is False  # queued while the box was offline
        assert lanes.on_command(command(1)) is True
        assert (
            lanes.on_command(
                Command(
                    id="c2",
                    device="box",
                    action="open",
                    by="s",
                    at=datetime.now(UTC),
                    checkpoint="yard-out",
                )
            )
            is False
        )
    finally:
        sim.stop()


def test_an_open_naming_another_held_truck_is_refused(tmp_path: Path) -> None:
    sim = BarrierSimulator()
    sim.start()
    try:
        store = EdgeStore(tmp_path / "box.db")
        barrier = BarrierConfig(url=sim.path)
        lane = Lane(
            LaneConfig(policy=Policy(checkpoint="barrier-in", kind="barrier-in"), barrier=barrier),
            store,
            BarrierController(ModbusRelayBarrier(barrier), store, "barrier-in"),
        )
        lanes = Lanes(lanes=[lane])
        held_at = datetime.now(UTC)
        store.lanes.set_state("barrier-in", "held", "29H-888.12", held_at, "unknown_plate")
        # a fault noted while held keeps the truck and the moment it was held
        store.lanes.set_state("barrier-in", "held", None, held_at + timedelta(minutes=3), "")
        lane.state = State.HELD

        def opening(plate: str | None, at: datetime | None) -> Command:
            return Command(
                id=f"c-{plate}-{at}",
                device="box",
                action="open",
                by="bg.nam",
                reason="papers checked",
                checkpoint="barrier-in",
                at=datetime.now(UTC),
                plate=plate,
                held_at=at,
            )

        assert lanes.on_command(opening("51D-123.45", held_at)) is False  # another truck
        assert lanes.on_command(opening("29H-888.12", held_at - timedelta(minutes=10))) is False
        assert lanes.on_command(opening("29H88812", held_at)) is True  # any spelling of it
    finally:
        sim.stop()
