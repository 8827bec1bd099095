"""The indicator protocols the box understands, by name."""

from __future__ import annotations

from collections.abc import Callable

from edge_agent.devices.scale.frame_parser import FrameParser
from edge_agent.devices.scale.mtsics import MtSicsParser
from edge_agent.devices.scale.stgs import StGsParser
from edge_agent.devices.scale.toledo import ToledoParser
from edge_agent.devices.scale.xk3190 import Xk3190A12Parser, Xk3190Parser

PARSERS: dict[str, Callable[[], FrameParser]] = {
    "xk3190": Xk3190Parser,
    "xk3190-a12": Xk3190A12Parser,
    "toledo": ToledoParser,
    "toledo-nochecksum": lambda: ToledoParser(checksum=False),
    "mtsics": MtSicsParser,
    "stgs": StGsParser,
}


def make_parser(protocol: str) -> FrameParser:
    try:
        return PARSERS[protocol]()
    except KeyError:
        raise ValueError(
            f"unknown scale protocol {protocol!r}; one of {', '.join(sorted(PARSERS))}"
        ) from None
