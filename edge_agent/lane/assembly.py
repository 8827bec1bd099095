"""Building lanes from the box's config: drivers, camera, scale, ANPR, policy."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from edge_agent.anpr.engine import Anpr
from edge_agent.camera.source import FrameSource
from edge_agent.config import AgentConfig, BarrierConfig, LaneConfig
from edge_agent.devices.barrier.controller import BarrierController
from edge_agent.devices.barrier.driver import BarrierDriver
from edge_agent.devices.barrier.gpio import GpioBarrier, GpioBarrierSettings, GpioLine
from edge_agent.devices.barrier.modbus_rtu import ModbusBarrierSettings, ModbusRelayBarrier
from edge_agent.devices.scale.protocols import make_parser
from edge_agent.devices.scale.reader import ScaleReader
from edge_agent.devices.serial_port import SerialSettings
from edge_agent.lane.machine import Lane, LaneSettings
from edge_agent.store import EdgeStore
from protocol.messages import Command

log = logging.getLogger("cuakhau.agent.lanes")


def make_barrier(config: BarrierConfig) -> BarrierDriver:
    if config.type == "gpio":
        assert config.gpio is not None
        g = config.gpio
        return GpioBarrier(
            GpioBarrierSettings(
                open_output=GpioLine(g["open"]),
                close_output=GpioLine(g["close"]),
                loop_input=GpioLine(g["loop"]),
                open_limit_input=GpioLine(g["open_limit"]),
                closed_limit_input=GpioLine(g["closed_limit"]),
                pulse_s=config.pulse_s,
                confirm_timeout_s=config.confirm_timeout_s,
            )
        )
    assert config.url is not None
    return ModbusRelayBarrier(
        ModbusBarrierSettings(
            url=config.url,
            baudrate=config.baudrate,
            unit=config.unit,
            open_relay=config.open_relay,
            close_relay=config.close_relay,
            loop_input=config.loop_input,
            open_limit_input=config.open_limit_input,
            closed_limit_input=config.closed_limit_input,
            pulse_s=config.pulse_s,
            confirm_timeout_s=config.confirm_timeout_s,
        )
    )


@dataclass
class Lanes:
    lanes: list[Lane] = field(default_factory=list)
    cameras: list[FrameSource] = field(default_factory=list)
    scales: list[ScaleReader] = field(default_factory=list)

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
            return lane.override(command.by, command.reason, command.id, command.at)
        if command.action == "reset_fault":
            return lane.reset_fault(command.by)
        return False


def build_lanes(config: AgentConfig, store: EdgeStore) -> Lanes:
    built = Lanes()
    if not config.lanes:
        return built
    anpr = Anpr(config.models, precision=config.reader)
    log.info("plate reader: %s (config: %s)", anpr.precision, config.reader)
    for lane_config in config.lanes:
        built.lanes.append(_lane(lane_config, store, anpr, built))
    return built


def _lane(c: LaneConfig, store: EdgeStore, anpr: Anpr, built: Lanes) -> Lane:
    camera = FrameSource(c.camera) if c.camera else None
    if camera:
        built.cameras.append(camera)
    scale = None
    if c.scale is not None:
        scale = ScaleReader(
            SerialSettings(
                c.scale.url,
                baudrate=c.scale.baudrate,
                bytesize=c.scale.bytesize,
                parity=c.scale.parity,
            ),
            make_parser(c.scale.protocol),
        )
        built.scales.append(scale)
    controller = BarrierController(make_barrier(c.barrier), store, c.policy.checkpoint)
    settings = LaneSettings(
        policy=c.policy, identify=c.identify, weighing_timeout_s=c.weighing_timeout_s
    )
    return Lane(settings, store, controller, camera=camera, anpr=anpr, scale=scale)
