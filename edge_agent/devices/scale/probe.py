"""Finding out which indicator protocol and line settings a port speaks, by listening."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import serial

from edge_agent.devices.scale.protocols import PARSERS
from edge_agent.devices.serial_port import SerialSettings, open_port

BAUDS = (9600, 4800, 2400, 19200)
FRAMINGS: tuple[tuple[Literal[7, 8], Literal["N", "E", "O"]], ...] = ((8, "N"), (7, "E"))


@dataclass(frozen=True)
class ProbeResult:
    protocol: str
    baudrate: int
    bytesize: int
    parity: str
    frames: int
    rejected: int
    last_kg: float | None


def _score(settings: SerialSettings, listen_s: float) -> ProbeResult | None:
    parsers = {name: factory() for name, factory in PARSERS.items()}
    counts = dict.fromkeys(parsers, 0)
    last: dict[str, float | None] = dict.fromkeys(parsers)
    with open_port(settings, timeout=0.05) as port:
        port.reset_input_buffer()
        deadline = time.monotonic() + listen_s
        next_poll = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_poll:  # polled indicators answer only when asked
                port.write(b"SI\r\n")
                next_poll = time.monotonic() + 0.2
            data = port.read(256)
            for name, parser in parsers.items():
                for reading in parser.feed(data):
                    counts[name] += 1
                    last[name] = reading.kg
    best = max(parsers, key=lambda n: (counts[n], -parsers[n].rejected_total))
    if counts[best] < 2:
        return None
    return ProbeResult(
        best,
        settings.baudrate,
        settings.bytesize,
        settings.parity,
        counts[best],
        parsers[best].rejected_total,
        last[best],
    )


def probe(
    url: str, listen_s: float = 1.5, progress: Callable[[str], None] | None = None
) -> ProbeResult | None:
    """Try every baud rate and framing; the first that yields clean frames wins."""
    for baud in BAUDS:
        for bytesize, parity in FRAMINGS:
            settings = SerialSettings(url=url, baudrate=baud, bytesize=bytesize, parity=parity)
            if progress:
                progress(f"listening at {baud} {bytesize}{parity}1...")
            try:
                found = _score(settings, listen_s)
            except (serial.SerialException, OSError) as exc:
                raise OSError(f"cannot use {url}: {exc}") from None
            if found is not None and found.rejected <= found.frames:
                return found
    return None
