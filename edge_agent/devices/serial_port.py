"""Serial line settings and opening a port by pyserial URL."""

from __future__ import annotations

import serial

from edge_agent.config import SerialSettings

__all__ = ["SerialSettings", "open_port"]


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
