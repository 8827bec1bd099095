"""The generic line format many indicators offer: ``ST,GS,+0024560kg`` + CR LF.

Status ``ST`` stable, ``US`` unstable, ``OL`` overload; ``GS`` gross, ``NT`` net; a signed
figure (8 characters, may hold a decimal point); the unit (kg, t, lb).
"""

from __future__ import annotations

import re

from edge_agent.devices.readings import WeightReading
from edge_agent.devices.scale.frame_parser import FrameParser

_LINE = re.compile(rb"(ST|US|OL),(GS|NT),([+-])\s*([0-9. ]{1,9})\s*(kg|t|lb)$")
_TO_KG = {b"kg": 1.0, b"t": 1000.0, b"lb": 0.45359237}
MAX_LINE = 64


class StGsParser(FrameParser):
    protocol = "stgs"

    def _next(self) -> WeightReading | None:
        while (line := self._next_line(MAX_LINE)) is not None:
            if not line:
                continue
            m = _LINE.search(line)  # noise before a whole line still leaves the line readable
            if m is None:
                self.rejected["content"] += 1
                continue
            status, mode, sign, figure, unit = m.groups()
            net = mode == b"NT"
            if status == b"OL":
                return WeightReading(
                    kg=None,
                    stable=False,
                    net=net,
                    status="overload",
                    raw=line,
                    protocol=self.protocol,
                )
            try:
                value = float(figure.replace(b" ", b""))
            except ValueError:
                self.rejected["content"] += 1
                continue
            kg = value * _TO_KG[unit] * (-1 if sign == b"-" else 1)
            return WeightReading(
                kg=kg, stable=status == b"ST", net=net, raw=line, protocol=self.protocol
            )
        return None
