"""What every indicator parser shares: a bounded buffer, resynchronisation, reject counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

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

    def _fixed_frame(
        self, start: bytes, length: int, parse: Callable[[bytes], WeightReading | None]
    ) -> WeightReading | None:
        """Next frame that begins with ``start`` and is ``length`` bytes long.

        Bytes before a start marker are garbage; a frame ``parse`` refuses (None) costs one
        byte, and the search goes on from the next marker: resynchronisation.
        """
        buf = self.buffer
        while True:
            at = buf.find(start)
            if at < 0:
                if buf:
                    self.rejected["garbage"] += 1
                buf.clear()
                return None
            if at:
                del buf[:at]
                self.rejected["garbage"] += 1
            if len(buf) < length:
                return None
            reading = parse(bytes(buf[:length]))
            if reading is None:
                del buf[:1]
                continue
            del buf[:length]
            return reading

    def _next_line(self, max_line: int = 64) -> bytes | None:
        """Next complete line (CR/LF and blanks stripped); an endless line keeps its tail."""
        buf = self.buffer
        end = buf.find(b"\n")
        if end < 0:
            if len(buf) > max_line:
                self.rejected["garbage"] += 1
                del buf[:-max_line]
            return None
        line = bytes(buf[:end]).rstrip(b"\r").strip()
        del buf[: end + 1]
        return line

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def request(self) -> bytes | None:
        """Bytes to send to poll the indicator (request/response protocols), else None."""
        return None
