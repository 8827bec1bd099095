"""Mettler Toledo MT-SICS (request/response over a line protocol).

The box sends ``SI`` (weight now) or ``S`` (next stable weight) with CR LF; replies::

    S S     24560 kg    stable          S D     24530 kg    dynamic (in motion)
    S +                 overload        S -                 underload
    S I                 busy            ES / ET / EL        syntax, transmission, logic error
"""

from __future__ import annotations

import re

from edge_agent.devices.readings import WeightReading
from edge_agent.devices.scale.frame_parser import FrameParser

_WEIGHT = re.compile(rb"S\s+([SD])\s+(-?\s*\d+(?:\.\d+)?)\s+(kg|g|t|lb)$")
_TO_KG = {b"kg": 1.0, b"g": 0.001, b"t": 1000.0, b"lb": 0.45359237}
MAX_LINE = 64


class MtSicsParser(FrameParser):
    protocol = "mtsics"

    def __init__(self, command: bytes = b"SI") -> None:
        super().__init__()
        if command not in (b"SI", b"S"):
            raise ValueError("MT-SICS command is SI (immediate) or S (stable)")
        self.command = command

    def request(self) -> bytes:
        return self.command + b"\r\n"

    def _next(self) -> WeightReading | None:
        while (line := self._next_line(MAX_LINE)) is not None:
            reading = self._parse(line)
            if reading is not None:
                return reading
        return None

    def _parse(self, line: bytes) -> WeightReading | None:
        # search, not match: a line torn by noise still ends in a whole reply
        m = _WEIGHT.search(line)
        if m:
            kg = float(m.group(2).replace(b" ", b"")) * _TO_KG[m.group(3)]
            return WeightReading(kg=kg, stable=m.group(1) == b"S", raw=line, protocol=self.protocol)
        status = {
            b"S +": "overload",
            b"S -": "underload",
            b"S I": "busy",
            b"ES": "error",
            b"ET": "error",
            b"EL": "error",
        }.get(line)
        if status is not None:
            return WeightReading(
                kg=None, stable=False, status=status, raw=line, protocol=self.protocol
            )
        if line:
            self.rejected["content"] += 1
        return None
