"""Byte-exact frames of the indicator protocols, as the real indicators send them.

Written from the protocol descriptions independently of the box's parsers, so that the tests
that pass one through the other check both.
"""

from __future__ import annotations

from functools import reduce


def _xor(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def xk3190(
    kg: float, decimals: int = 0, *, hex_letters: bool = True, corrupt: bool = False
) -> bytes:
    """XK3190 format 0. ``hex_letters=False``: the +0x30 nibble encoding of some firmwares."""
    scaled = round(abs(kg) * 10**decimals)
    body = (b"-" if kg < 0 else b"+") + f"{scaled:06d}".encode()[-6:] + str(decimals).encode()
    check = _xor(body) ^ (0x55 if corrupt else 0)

    def enc(n: int) -> int:
        return (0x37 + n) if (hex_letters and n > 9) else 0x30 + n

    return b"\x02" + body + bytes([enc(check >> 4), enc(check & 0x0F)]) + b"\x03"


def xk3190_a12(kg: float | None, *, net: bool = False, corrupt: bool = False) -> bytes:
    """XK3190-A12(E): ``WG004.139kg3D\\r\\n``; ``kg=None`` sends the overload frame."""
    figure = "   OL  " if kg is None else f"{kg:07.3f}"[:7]
    head = b"W" + (b"N" if net else b"G") + figure.encode() + b"kg"
    check = _xor(head) ^ (0x55 if corrupt else 0)
    return head + f"{check:02X}".encode() + b"\r\n"


def toledo(
    kg: float | None,
    *,
    motion: bool = False,
    net: bool = False,
    tare_kg: float = 0,
    checksum: bool = True,
    corrupt: bool = False,
) -> bytes:
    """Toledo continuous, kg, no decimals. ``kg=None`` sets the out-of-range bit."""
    swa = 0x20 | 0x08 | 0x02  # bit 5 always set, bit 3: display x1, decimal code 2 (none)
    swb = 0x20 | 0x10  # bit 5 always set, kg
    if net:
        swb |= 0x01
    if kg is not None and kg < 0:
        swb |= 0x02
    if kg is None:
        swb |= 0x04
    if motion:
        swb |= 0x08
    swc = 0x20
    weight = 0 if kg is None else round(abs(kg))
    body = (
        b"\x02"
        + bytes([swa, swb, swc])
        + f"{weight:06d}".encode()[-6:]
        + f"{round(tare_kg):06d}".encode()[-6:]
        + b"\r"
    )
    if not checksum:
        return body
    check = (-sum(body)) & 0x7F
    return body + bytes([check ^ (0x11 if corrupt else 0)])


def mtsics(kg: float | None, *, stable: bool = True, status: str = "ok") -> bytes:
    """An MT-SICS reply to ``SI``/``S``."""
    if status == "overload":
        return b"S +\r\n"
    if status == "underload":
        return b"S -\r\n"
    if status == "busy":
        return b"S I\r\n"
    assert kg is not None
    return f"S {'S' if stable else 'D'} {round(kg):>10} kg\r\n".encode()


def stgs(kg: float | None, *, stable: bool = True, net: bool = False) -> bytes:
    """``ST,GS,+0024560kg``; ``kg=None`` sends the overload line."""
    mode = "NT" if net else "GS"
    if kg is None:
        return f"OL,{mode},+9999999kg\r\n".encode()
    sign = "-" if kg < 0 else "+"
    return f"{'ST' if stable else 'US'},{mode},{sign}{round(abs(kg)):07d}kg\r\n".encode()
