"""Serial line settings and opening a port by pyserial URL."""

from __future__ import annotations

from dataclasses import dataclass

import serial


@dataclass(frozen=True)
class SerialSettings:
    url: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1


def open_port(settings: SerialSettings, timeout: float = 0.05) -> serial.Serial:
    """Open any pyserial URL (a device path, ``socket://``, ``loop://``, ``rfc2217://``)."""
    port = serial.serial_for_url(
        settings.url,
        baudrate=settings.baudrate,
        bytesize=settings.bytesize,
        parity=settings.parity,
        stopbits=settings.stopbits,
        timeout=timeout,
    )
    return port
