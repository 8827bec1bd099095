"""Yaohua XK3190 indicators (A9, A23P, A26, DS family and A12(E)).

Continuous "format 0", 12 bytes::

    02 | sign '+'/'-' | 6 digits, MSB first | decimal places '0'..'4' | ck hi | ck lo | 03

The checksum is the XOR of the sign, digit and decimal bytes; each nibble is sent as ASCII,
'0'-'9' then 'A'-'F' (+0x37), or by some firmwares ':'-'?' (+0x30 for both). No motion flag:
stability is computed by ``StabilityTracker``.

A12(E) continuous: ``W`` + ``G``/``N`` + 7 characters including the decimal point + ``kg`` +
two hex characters (XOR of everything before them) + CR LF, e.g. ``WG004.139kg3D\\r\\n``.
The figure is taken as shown, times ``unit_scale`` (1000 where a truck scale is set to show
tonnes while the unit field still says ``kg``).
"""

from __future__ import annotations

from functools import reduce

from edge_agent.devices.readings import WeightReading
from edge_agent.devices.scale.frame_parser import FrameParser
from edge_agent.devices.scale.stability import StabilityTracker

STX, ETX = 0x02, 0x03
FRAME0_LEN = 12


def xor(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def nibble(byte: int) -> int | None:
    if 0x30 <= byte <= 0x3F:  # '0'-'9' and the +0x30 encoding ':'..'?' for 10-15
        return byte - 0x30
    if 0x41 <= byte <= 0x46:  # 'A'-'F'
        return byte - 0x37
    return None


class Xk3190Parser(FrameParser):
    protocol = "xk3190"

    def __init__(self, stability: StabilityTracker | None = None) -> None:
        super().__init__()
        self.stability = stability or StabilityTracker()

    def _next(self) -> WeightReading | None:
        return self._fixed_frame(bytes([STX]), FRAME0_LEN, self._frame0)

    def _frame0(self, frame: bytes) -> WeightReading | None:
        reason = self._invalid(frame)
        if reason:
            self.rejected[reason] += 1
            return None
        return self._reading(frame)

    @staticmethod
    def _invalid(frame: bytes) -> str | None:
        if frame[11] != ETX:
            return "framing"
        if frame[1] not in b"+-" or not frame[2:8].isdigit() or frame[8] not in b"01234":
            return "content"
        hi, lo = nibble(frame[9]), nibble(frame[10])
        if hi is None or lo is None or (hi << 4 | lo) != xor(frame[1:9]):
            return "checksum"
        return None

    def _reading(self, frame: bytes) -> WeightReading:
        decimals = frame[8] - 0x30
        value = int(frame[2:8]) / (10**decimals)
        kg = -value if frame[1] == ord("-") else value
        reading = WeightReading(kg=kg, stable=False, raw=frame, protocol=self.protocol)
        return self.stability.apply(reading)


class Xk3190A12Parser(FrameParser):
    """XK3190-A12(E) ``WG004.139kg3D\\r\\n`` frames. Overload: the weight field is ``OL``."""

    protocol = "xk3190-a12"
    FRAME_LEN = 15

    def __init__(self, stability: StabilityTracker | None = None, unit_scale: float = 1.0) -> None:
        super().__init__()
        self.stability = stability or StabilityTracker()
        #: multiply the shown figure by this to get kg (1000 when the indicator shows tonnes)
        self.unit_scale = unit_scale

    def _next(self) -> WeightReading | None:
        return self._fixed_frame(b"W", self.FRAME_LEN, self._parse)

    def _parse(self, frame: bytes) -> WeightReading | None:
        if frame[1:2] not in (b"G", b"N") or frame[9:11] != b"kg" or frame[13:15] != b"\r\n":
            self.rejected["framing"] += 1
            return None
        try:
            check = int(frame[11:13].decode("ascii"), 16)
        except (UnicodeDecodeError, ValueError):
            check = -1
        if check != xor(frame[:11]):
            self.rejected["checksum"] += 1
            return None
        field = frame[2:9].decode("ascii", "replace").strip()
        net = frame[1:2] == b"N"
        if "OL" in field.upper():
            overload = WeightReading(
                kg=None,
                stable=False,
                net=net,
                status="overload",
                raw=frame,
                protocol=self.protocol,
            )
            self.stability.update(None, overload.at)
            return overload
        try:
            value = float(field)
        except ValueError:
            self.rejected["content"] += 1
            return None
        reading = WeightReading(
            kg=round(value * self.unit_scale, 6),
            stable=False,
            net=net,
            raw=frame,
            protocol=self.protocol,
        )
        return self.stability.apply(reading)
