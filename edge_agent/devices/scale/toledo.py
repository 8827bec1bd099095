"""Mettler Toledo continuous output (also emulated by Cardinal, Rice Lake, Keli indicators).

::

    STX | SWA | SWB | SWC | 6 weight digits | 6 tare digits | CR | [checksum]

SWA bits 0-2: decimal code (0 = x100, 1 = x10, 2 = none, 3..7 = 1..5 decimals).
SWB bit 0 net, bit 1 negative, bit 2 out of range, bit 3 motion, bit 4 kg (else lb).
Checksum (optional): the two's complement of the 7-bit sum of every byte from STX to CR.
The indicator's motion bit decides stability; the parser never guesses over it.
"""

from __future__ import annotations

from edge_agent.devices.readings import WeightReading
from edge_agent.devices.scale.frame_parser import FrameParser

STX, CR = 0x02, 0x0D
BODY_LEN = 17  # STX .. CR
LB_TO_KG = 0.45359237
_SEVEN_BITS = bytes(b & 0x7F for b in range(256))


def toledo_checksum(body: bytes) -> int:
    return (-sum(body)) & 0x7F


class ToledoParser(FrameParser):
    protocol = "toledo"

    def __init__(self, checksum: bool = True) -> None:
        super().__init__()
        self.checksum = checksum
        self.frame_len = BODY_LEN + (1 if checksum else 0)

    def feed(self, data: bytes) -> list[WeightReading]:
        # Every Toledo byte is 7-bit: a 7E1 line read as 8N1 brings its parity in bit 7.
        return super().feed(data.translate(_SEVEN_BITS))

    def _next(self) -> WeightReading | None:
        return self._fixed_frame(bytes([STX]), self.frame_len, self._parse)

    def _parse(self, frame: bytes) -> WeightReading | None:
        swa, swb = frame[1], frame[2]
        if frame[16] != CR:
            self.rejected["framing"] += 1
            return None
        if self.checksum and frame[17] != toledo_checksum(frame[:17]):
            self.rejected["checksum"] += 1
            return None
        digits = frame[4:10].replace(b" ", b"0")
        if not digits.isdigit() or not (0x20 <= swa <= 0x3F) or not (0x20 <= swb <= 0x3F):
            self.rejected["content"] += 1
            return None
        net = bool(swb & 0x01)
        motion = bool(swb & 0x08)
        if swb & 0x04:
            return WeightReading(
                kg=None, stable=False, net=net, status="overload", raw=frame, protocol=self.protocol
            )
        code = swa & 0x07
        value = int(digits) * (10 ** (2 - code)) if code <= 2 else int(digits) / 10 ** (code - 2)
        if swb & 0x02:
            value = -value
        if not swb & 0x10:
            value = value * LB_TO_KG
        return WeightReading(
            kg=float(value), stable=not motion, net=net, raw=frame, protocol=self.protocol
        )
