"""Building lanes from the box's config: drivers, camera, scale, ANPR, policy."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from edge_agent.anpr.engine import Anpr
from edge_agent.camera.source import FrameSource
from edge_agent.config import AgentConfig, BarrierConfig, LaneConfig
from edge_agent.devices.barrier.controller import BarrierController
from edge_agent.devices.barrier.driver import BarrierDriver
from edge_agent.devices.barrier.gpio import GpioBarrier
from edge_agent.devices.barrier.modbus_rtu import ModbusRelayBarrier
from edge_agent.devices.scale.protocols import make_parser
from edge_agent.devices.scale.reader import ScaleReader
from edge_agent.lane.machine import Lane
from edge_agent.store import EdgeStore
from protocol.messages import Command

log = logging.getLogger("cuakhau.agent.lanes")


def make_barrier(config: BarrierConfig) -> BarrierDriver:
    return GpioBarrier(config) if config.type == "gpio" else ModbusRelayBarrier(config)


@dataclass
class Lanes:
    lanes: list[Lane] = field(default_factory=list)
    cameras: list[FrameSource] = field(default_factory=list)
    scales: list[ScaleReader] = field(default_factory=list)
    #: the plate reader the lanes run ("float" or "int8"; None: no lanes)
    reader: str | None = None

    def start(self) -> None:
        for camera in self.cameras:
            camera.start()
        for scale in self.scales:
            scale.start()
        for lane in self.lanes:
            lane.start()

    def stop(self) -> None:
        for lane in self.lanes:
            lane.stop()
        for lane in self.lanes:  # stopped: nothing drives its barrier any more
            lane.barrier.driver.close_port()
        for camera in self.cameras:
            camera.stop()
        for scale in self.scales:
            scale.stop()

    def by_checkpoint(self, checkpoint: str | None) -> Lane | None:
        for lane in self.lanes:
            if (checkpoint is None and len(self.lanes) == 1) or lane.checkpoint == checkpoint:
                return lane
        return None

    def on_command(self, command: Command) -> bool:
        """Manual override / fault reset from central; False when no lane can take it."""
        lane = self.by_checkpoint(command.checkpoint)
        if lane is None:
            return False
        if command.action == "open":
            return lane.override(
                command.by,
                command.reason,
                command.id,
                command.at,
                plate=command.plate,
                held_at=command.held_at,
            )
        if command.action == "reset_fault":
            return lane.reset_fault(command.by)
        return False


def build_lanes(config: AgentConfig, store: EdgeStore) -> Lanes:
    built = Lanes()
    if not config.lanes:
        return built
    anpr = Anpr(config.models, precision=config.reader)
    log.info("plate reader: %s (config: %s)", anpr.precision, config.reader)
    built.reader = anpr.precision
    for lane_config in config.lanes:
        built.lanes.append(_lane(lane_config, store, anpr, built))
    return built


def _lane(c: LaneConfig, store: EdgeStore, anpr: Anpr, built: Lanes) -> Lane:
    camera = FrameSource(c.camera) if c.camera else None
    if camera:
        built.cameras.append(camera)
    scale = None
    if c.scale is not None:
        scale = ScaleReader(c.scale, make_parser(c.scale.protocol))
        built.scales.append(scale)
    controller = BarrierController(make_barrier(c.barrier), store, c.policy.checkpoint)
    return Lane(c, store, controller, camera=camera, anpr=anpr, scale=scale)
