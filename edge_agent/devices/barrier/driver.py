"""What every barrier driver does, whatever the wiring: the safety rules live here.

- Open is a pulse, then the open limit switch must confirm within ``confirm_timeout_s``;
  otherwise the barrier is *faulted* and refuses every command until ``reset()``.
- Close is never commanded while the loop reports a vehicle, nor when the inputs cannot be
  read (lost communication): a barrier that stays open is an inconvenience, one that comes
  down on a truck or a person is an accident. If a vehicle appears while closing, the driver
  sends an open pulse at once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Literal

from edge_agent.devices.readings import BarrierInputs, BarrierPosition

log = logging.getLogger("cuakhau.agent.barrier")

Outcome = Literal[
    "confirmed",  # the limit switch confirmed the movement
    "fault",  # no confirmation in time: faulted, needs reset
    "refused_fault",  # faulted earlier: nothing commanded
    "refused_presence",  # close refused: vehicle on the loop
    "reversed_presence",  # vehicle appeared while closing: reopened
    "comm_lost",  # could not talk to the barrier: nothing (more) commanded
]


class BarrierCommError(Exception):
    """The barrier's controller did not answer properly."""


@dataclass(frozen=True)
class BarrierResult:
    action: Literal["open", "close"]
    outcome: Outcome
    detail: str
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return self.outcome == "confirmed"


class BarrierDriver:
    def __init__(self, *, confirm_timeout_s: float = 8.0, poll_s: float = 0.05) -> None:
        self.confirm_timeout_s = confirm_timeout_s
        self.poll_s = poll_s
        self.fault: str | None = None
        self._lock = threading.Lock()

    # -- wiring-specific -----------------------------------------------------------------------

    def read_inputs(self) -> BarrierInputs:  # pragma: no cover - abstract
        raise NotImplementedError

    def _pulse(self, which: Literal["open", "close"]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close_port(self) -> None:
        """Let go of the line to the barrier (the agent is stopping); nothing to do by default."""

    # -- the safety rules ------------------------------------------------------------------------

    def reset(self) -> None:
        """Clear a fault after a technician has looked (recorded by the caller)."""
        with self._lock:
            self.fault = None

    def position(self) -> BarrierPosition:
        if self.fault is not None:
            return BarrierPosition.FAULT
        return self.read_inputs().position

    def open(self) -> BarrierResult:
        with self._lock:
            started = time.monotonic()
            if self.fault is not None:
                return self._result("open", "refused_fault", self.fault, started)
            try:
                self._pulse("open")
            except BarrierCommError as exc:
                return self._result("open", "comm_lost", str(exc), started)
            return self._confirm("open", started)

    def close(self) -> BarrierResult:
        with self._lock:
            started = time.monotonic()
            if self.fault is not None:
                return self._result("close", "refused_fault", self.fault, started)
            try:
                inputs = self.read_inputs()
            except BarrierCommError as exc:
                return self._result("close", "comm_lost", f"not closing: {exc}", started)
            if inputs.vehicle_present:
                return self._result("close", "refused_presence", "vehicle on the loop", started)
            try:
                self._pulse("close")
            except BarrierCommError as exc:
                return self._result("close", "comm_lost", str(exc), started)
            return self._confirm("close", started)

    def _confirm(self, action: Literal["open", "close"], started: float) -> BarrierResult:
        deadline = started + self.confirm_timeout_s
        misses = 0
        while True:
            try:
                inputs = self.read_inputs()
                misses = 0
            except BarrierCommError as exc:
                misses += 1
                if misses >= 3:
                    return self._result(action, "comm_lost", str(exc), started)
                inputs = None
            if inputs is not None:
                if action == "close" and inputs.vehicle_present:
                    try:
                        self._pulse("open")
                    except BarrierCommError as exc:
                        log.error("could not reopen for a vehicle under the barrier: %s", exc)
                    return self._result(
                        action, "reversed_presence", "vehicle under the barrier", started
                    )
                done = inputs.open_limit if action == "open" else inputs.closed_limit
                if done and inputs.position is not BarrierPosition.FAULT:
                    return self._result(action, "confirmed", "limit switch", started)
            if time.monotonic() >= deadline:
                limit = "open" if action == "open" else "closed"
                self.fault = (
                    f"{action} not confirmed by the {limit} limit within "
                    f"{self.confirm_timeout_s:g} s"
                )
                log.error("barrier fault: %s", self.fault)
                return self._result(action, "fault", self.fault, started)
            time.sleep(self.poll_s)

    @staticmethod
    def _result(
        action: Literal["open", "close"], outcome: Outcome, detail: str, started: float
    ) -> BarrierResult:
        return BarrierResult(action, outcome, detail, time.monotonic() - started)
