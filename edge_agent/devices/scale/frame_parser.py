"""What every indicator parser shares: a bounded buffer, resynchronisation, reject counts."""

from __future__ import annotations

from collections import Counter

from edge_agent.devices.readings import WeightReading

#: More buffered bytes than this without a frame means garbage: the oldest bytes go.
MAX_BUFFER = 512


class FrameParser:
    """Feed it bytes as they come from the port; get readings. Never raises on bad bytes."""

    protocol = ""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.rejected: Counter[str] = Counter()
        self.frames = 0

    def feed(self, data: bytes) -> list[WeightReading]:
        self.buffer += data
        readings: list[WeightReading] = []
        while True:
            reading = self._next()
            if reading is None:
                break
            self.frames += 1
            readings.append(reading)
        if len(self.buffer) > MAX_BUFFER:  # what is left is never a frame: bound it
            del self.buffer[: len(self.buffer) - MAX_BUFFER]
            self.rejected["overflow"] += 1
        return readings

    def _next(self) -> WeightReading | None:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def request(self) -> bytes | None:
        """Bytes to send to poll the indicator (request/response protocols), else None."""
        return None
