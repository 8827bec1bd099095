"""Modbus RTU requests and responses of relay boards, framed and CRC'd by pymodbus.

Standard functions: 01 read coils (relay states), 02 read discrete inputs (loop, limits), 05
write single coil. Relay boards of the Waveshare type also take a *flash* command on function
05: address ``0x0200 + relay``, value = pulse length in 100 ms. The board itself ends the pulse,
so a box that crashes mid-command cannot leave a relay latched. pymodbus decodes function 05
as on/off only (``bits=[bool(value)]``), so the PDUs are built and read here, while pymodbus'
``FramerRTU`` does the framing and the CRC-16/MODBUS.
"""

from __future__ import annotations

import struct

from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU

FLASH_BASE = 0x0200

_client_framer = FramerRTU(DecodePDU(False))


def frame(unit: int, pdu: bytes) -> bytes:
    """Unit id + PDU + CRC (low byte first, as on the wire)."""
    return _client_framer.encode(pdu, unit, 0)


def crc_ok(adu: bytes) -> bool:
    if len(adu) < 4:
        return False
    return FramerRTU.check_CRC(adu[:-2], (adu[-2] << 8) | adu[-1])


def flash_pulse(unit: int, relay: int, tenths: int) -> bytes:
    if not 1 <= tenths <= 0x7FFF:
        raise ValueError("pulse length must be 1..32767 tenths of a second")
    return frame(unit, struct.pack(">BHH", 0x05, FLASH_BASE + relay, tenths))


def read_bits(unit: int, function: int, address: int, count: int) -> bytes:
    if function not in (0x01, 0x02):
        raise ValueError("read_bits is function 01 (coils) or 02 (discrete inputs)")
    return frame(unit, struct.pack(">BHH", function, address, count))


def bits_response_length(count: int) -> int:
    return 5 + (count + 7) // 8


class ModbusError(Exception):
    """A Modbus exchange that did not give the expected, valid answer."""


def parse_bits_response(adu: bytes, unit: int, function: int, count: int) -> list[bool]:
    if not crc_ok(adu):
        raise ModbusError(f"bad CRC in response {adu.hex(' ')}")
    if adu[0] != unit:
        raise ModbusError(f"response from unit {adu[0]}, expected {unit}")
    if adu[1] == function | 0x80:
        raise ModbusError(f"device refused function {function:02x}: exception code {adu[2]}")
    if adu[1] != function or adu[2] != (count + 7) // 8:
        raise ModbusError(f"unexpected response {adu.hex(' ')}")
    bits = []
    for i in range(count):
        bits.append(bool(adu[3 + i // 8] >> (i % 8) & 1))
    return bits


def check_echo(request: bytes, adu: bytes) -> None:
    """Function 05 answers with an echo of the request."""
    if not crc_ok(adu):
        raise ModbusError(f"bad CRC in response {adu.hex(' ')}")
    if len(adu) >= 3 and adu[1] == request[1] | 0x80:
        raise ModbusError(f"device refused the write: exception code {adu[2]}")
    if adu != request:
        raise ModbusError(f"write not confirmed: sent {request.hex(' ')}, got {adu.hex(' ')}")
