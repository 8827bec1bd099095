"""Typed readings the drivers produce."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WeightReading:
    """One frame from a weighing indicator.

    ``kg`` is None when the indicator reports no weight (overload, underload, out of range);
    ``status`` says why. ``stable`` comes from the indicator's motion flag when the protocol
    has one, else from ``StabilityTracker``.
    """

    kg: float | None
    stable: bool
    net: bool = False
    status: str = "ok"  # ok | overload | underload | busy | error
    raw: bytes = b""
    protocol: str = ""
    at: datetime = field(default_factory=_now)


class BarrierPosition(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"
    MOVING = "moving"
    FAULT = "fault"


@dataclass(frozen=True)
class BarrierInputs:
    """What the barrier's inputs say right now."""

    vehicle_present: bool
    open_limit: bool
    closed_limit: bool

    @property
    def position(self) -> BarrierPosition:
        if self.open_limit and self.closed_limit:
            return BarrierPosition.FAULT  # both limit switches at once: wiring or switch fault
        if self.open_limit:
            return BarrierPosition.OPEN
        if self.closed_limit:
            return BarrierPosition.CLOSED
        return BarrierPosition.MOVING
