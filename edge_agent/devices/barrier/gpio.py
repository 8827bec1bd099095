"""Barriers wired as dry contacts on GPIO lines (Linux sysfs-style ``value`` files).

For boxes without a Modbus board: two outputs drive the open and close push-button inputs
of the barrier controller, three inputs read the loop detector and the limit switches. The
outputs are set to inactive when the driver starts (so a restart clears whatever a crash left)
and every pulse ends in a ``finally``; wiring a timer relay after the output makes the pulse
crash-proof in hardware as well.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge_agent.config import BarrierConfig
from edge_agent.devices.barrier.driver import BarrierCommError, BarrierDriver
from edge_agent.devices.readings import BarrierInputs


@dataclass(frozen=True)
class GpioLine:
    value_path: str
    active_low: bool = False


class GpioBarrier(BarrierDriver):
    def __init__(self, settings: BarrierConfig) -> None:
        paths = settings.gpio or {}
        missing = {"open", "close", "loop", "open_limit", "closed_limit"} - set(paths)
        if missing:
            raise ValueError(f"a GPIO barrier needs gpio paths for {sorted(missing)}")
        super().__init__(confirm_timeout_s=settings.confirm_timeout_s)
        self.settings = settings
        self.open_output = GpioLine(paths["open"])
        self.close_output = GpioLine(paths["close"])
        self.loop_input = GpioLine(paths["loop"])
        self.open_limit_input = GpioLine(paths["open_limit"])
        self.closed_limit_input = GpioLine(paths["closed_limit"])
        for line in (self.open_output, self.close_output):
            self._write(line, False)

    @staticmethod
    def _read(line: GpioLine) -> bool:
        try:
            raw = Path(line.value_path).read_text(encoding="ascii").strip()
        except OSError as exc:
            raise BarrierCommError(f"cannot read {line.value_path}: {exc}") from None
        if raw not in ("0", "1"):
            raise BarrierCommError(f"{line.value_path} holds {raw!r}, not 0 or 1")
        return (raw == "1") != line.active_low

    @staticmethod
    def _write(line: GpioLine, active: bool) -> None:
        try:
            Path(line.value_path).write_text(
                "1" if active != line.active_low else "0", encoding="ascii"
            )
        except OSError as exc:
            raise BarrierCommError(f"cannot write {line.value_path}: {exc}") from None

    def read_inputs(self) -> BarrierInputs:
        return BarrierInputs(
            vehicle_present=self._read(self.loop_input),
            open_limit=self._read(self.open_limit_input),
            closed_limit=self._read(self.closed_limit_input),
        )

    def _pulse(self, which: Literal["open", "close"]) -> None:
        line = self.open_output if which == "open" else self.close_output
        try:
            self._write(line, True)
            time.sleep(self.settings.pulse_s)
        finally:
            self._write(line, False)
