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
