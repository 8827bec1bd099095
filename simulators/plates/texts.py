"""Random plate numbers in the real formats, and how each is laid out on the plate.

Vietnam: one-line ``51F-155.85`` (older ``50Z-1630``), two-line car/truck ``51F`` / ``155.85``,
two-line motorbike ``54-T1`` / ``5417`` or ``59-L2`` / ``149.99`` (electric ones in the ``MĐ``
series: ``29-MĐ1`` / ``223.59``), trailers in the ``R`` series.
China: ``桂A·12345`` (blue, or yellow for large trucks, two-line at the rear: ``桂A`` /
``12345``), new-energy green ``桂AD12345`` (large vehicles ``桂A12345D``).

``text`` is what the reader is trained to output: letters and digits, no separators, the
Chinese province character included; the ``Đ`` is spelt ``D``, as registries write it in ASCII.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from protocol.plates import CN_PROVINCES, VN_LETTERS

VN_SERIES = VN_LETTERS.replace("R", "")  # R only on trailers
CN_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O on Chinese plates
DIGITS = "0123456789"
#: Share of motorbike plates in the electric ``MĐ`` series (29-MĐ1 / 223.59).
VN_ELECTRIC_SHARE = 0.08
#: Share of new-energy plates that are a large vehicle's (``桂A·12345D``).
NEW_ENERGY_LARGE_SHARE = 0.2

Country = Literal["VN", "CN"]
Colour = Literal["white", "yellow", "blue", "green"]


@dataclass(frozen=True)
class PlateSpec:
    country: Country
    lines: tuple[str, ...]  # the text of each printed line, with separators
    colour: Colour
    kind: str  # vn-car, vn-truck, vn-trailer, vn-moto, cn-blue, cn-yellow, cn-green

    @property
    def text(self) -> str:
        return "".join(c for c in "".join(self.lines) if c.isalnum()).replace("Đ", "D")

    @property
    def two_line(self) -> bool:
        return len(self.lines) == 2


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(DIGITS) for _ in range(n))


def _vn_number(rng: random.Random) -> str:
    return f"{_digits(rng, 3)}.{_digits(rng, 2)}" if rng.random() < 0.8 else _digits(rng, 4)


def vn_plate(rng: random.Random, kind: str | None = None) -> PlateSpec:
    kind = kind or rng.choice(["vn-car", "vn-truck", "vn-truck", "vn-trailer", "vn-moto"])
    province = f"{rng.randint(11, 99):02d}"
    if kind == "vn-moto":
        if rng.random() < VN_ELECTRIC_SHARE:
            series = "MĐ" + rng.choice(DIGITS[1:])
        else:
            # a letter and a digit (59-C2); two letters are rare (some 1 % of real plates)
            series = rng.choice(VN_SERIES) + (
                rng.choice(DIGITS[1:]) if rng.random() < 0.97 else rng.choice(VN_SERIES)
            )
        colour: Colour = "white"
        number = f"{_digits(rng, 3)}.{_digits(rng, 2)}" if "Đ" in series else _vn_number(rng)
        return PlateSpec("VN", (f"{province}-{series}", number), colour, kind)
    series = "R" if kind == "vn-trailer" else rng.choice(VN_SERIES)
    if kind == "vn-truck" and rng.random() < 0.1:
        series = "LD"
    if kind == "vn-car":
        colour = rng.choice(["white", "white", "blue", "yellow"])
    else:
        colour = rng.choice(["yellow", "yellow", "white"])
    number = _vn_number(rng)
    if rng.random() < 0.5:
        return PlateSpec("VN", (f"{province}{series}-{number}",), colour, kind)
    return PlateSpec("VN", (f"{province}{series}", number), colour, kind)


def cn_plate(rng: random.Random, kind: str | None = None, province: str | None = None) -> PlateSpec:
    kind = kind or rng.choice(["cn-blue", "cn-blue", "cn-yellow", "cn-green"])
    province = province or (rng.choice("桂桂桂" + CN_PROVINCES))
    letter = rng.choice(CN_LETTERS)
    alnum = CN_LETTERS + DIGITS * 3
    if kind == "cn-green":
        # new energy (GA 36-2018): small vehicles D/F, a letter or digit, four digits; large
        # ones five digits and D/F
        energy = rng.choice("DF")
        if rng.random() < NEW_ENERGY_LARGE_SHARE:
            tail = _digits(rng, 5) + energy
        else:
            tail = energy + rng.choice(alnum) + _digits(rng, 4)
        return PlateSpec("CN", (f"{province}{letter}·{tail}",), "green", kind)
    tail = "".join(rng.choice(alnum) for _ in range(5))
    if kind == "cn-yellow" and rng.random() < 0.5:
        return PlateSpec("CN", (f"{province}{letter}", tail), "yellow", kind)
    return PlateSpec(
        "CN", (f"{province}{letter}·{tail}",), "yellow" if kind == "cn-yellow" else "blue", kind
    )


def random_plate(rng: random.Random, vn_share: float = 0.5) -> PlateSpec:
    return vn_plate(rng) if rng.random() < vn_share else cn_plate(rng)


def spec_for(text: str, *, two_line: bool = False, colour: Colour | None = None) -> PlateSpec:
    """A spec for a given plate (as a scenario names it): ``12C-345.67``, ``桂A12345`` ..."""
    clean = text.strip()
    if clean and clean[0] in CN_PROVINCES:
        body = "".join(c for c in clean[1:] if c.isalnum())
        head, tail = clean[0] + body[:1], body[1:]
        if two_line:
            return PlateSpec("CN", (head, tail), colour or "yellow", "cn-yellow")
        kind = "cn-green" if len(tail) == 6 else "cn-blue"
        return PlateSpec(
            "CN", (f"{head}·{tail}",), colour or ("green" if len(tail) == 6 else "blue"), kind
        )
    if two_line and "-" in clean:
        top, _, bottom = clean.partition("-")
        if len(top) <= 4 and top[:2].isdigit() and not top[2:3].isdigit():
            return PlateSpec("VN", (top, bottom), colour or "yellow", "vn-truck")
    return PlateSpec("VN", (clean,), colour or "yellow", "vn-truck")
