"""Stability for indicators that send no motion flag (XK3190 format 0)."""

from __future__ import annotations

from collections import deque
from datetime import datetime

from edge_agent.devices.readings import WeightReading


class StabilityTracker:
    """Stable when the last ``count`` readings lie within ``tolerance_kg`` of each other and
    span no more than ``window_s`` seconds. Readings with no weight reset it."""

    def __init__(self, count: int = 5, tolerance_kg: float = 0.0, window_s: float = 2.0) -> None:
        if count < 2:
            raise ValueError("stability needs at least 2 readings")
        self.count = count
        self.tolerance_kg = tolerance_kg
        self.window_s = window_s
        self._recent: deque[tuple[float, datetime]] = deque(maxlen=count)

    def update(self, kg: float | None, at: datetime) -> bool:
        if kg is None:
            self._recent.clear()
            return False
        self._recent.append((kg, at))
        if len(self._recent) < self.count:
            return False
        values = [v for v, _ in self._recent]
        span = (self._recent[-1][1] - self._recent[0][1]).total_seconds()
        return max(values) - min(values) <= self.tolerance_kg and span <= self.window_s

    def apply(self, reading: WeightReading) -> WeightReading:
        from dataclasses import replace

        return replace(reading, stable=self.update(reading.kg, reading.at))
