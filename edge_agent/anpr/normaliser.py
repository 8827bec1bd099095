"""From what the reader saw to a plate number: formats, confusable fixes, display forms.

Vietnam: ``12C-345.67`` / ``12C-3456`` (cars, trucks; ``R`` series for trailers; two-letter
series such as ``LD``), motorbikes ``59-L2 149.99``. China: ``桂A·12345``, new-energy
``桂A·D12345``; Chinese plates are accepted without the province character (``A4K9X1``), as the
Lang Son platform stores them. ``0/O``, ``8/B``... are swapped only where the format says which
one a position must hold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from protocol.plates import CN_PROVINCES, VN_LETTERS

#: The letters a digit is read as, and the digits a letter is (the only swaps the format makes).
DIGIT_LOOKALIKES = {
    "O": "0",
    "D": "0",
    "Q": "0",
    "U": "0",
    "I": "1",
    "L": "1",
    "T": "1",
    "Z": "2",
    "S": "5",
    "B": "8",
    "G": "6",
    "A": "4",
}
LETTER_LOOKALIKES = {"0": "D", "8": "B", "5": "S", "2": "Z", "6": "G", "4": "A", "1": "T"}
TO_DIGIT = str.maketrans(DIGIT_LOOKALIKES)
TO_LETTER = str.maketrans(LETTER_LOOKALIKES)
CN_TAIL = str.maketrans({"I": "1", "O": "0"})

_VN = re.compile(rf"^(\d{{2}})([{VN_LETTERS}]{{1,2}})(\d{{4,5}})$")
#: Two-letter series on car and truck plates: LD foreign-invested firms, KT army enterprises,
#: NG/NN/QT/CV diplomatic, foreign and international bodies, DA projects, TD test vehicles,
#: HC restricted use, MK tractors, MD electric, RM semi-trailers. Any other pair is a misread
#: (an extra character between series and number, such as 51F-A44.614).
VN_SERIES_PAIRS = frozenset(
    {"LD", "KT", "NG", "NN", "QT", "CV", "DA", "TD", "HC", "MK", "MD", "RM"}
)
#: Prior odds of a digit over a letter as a motorbike series' second character (59-C2 against
#: 59-AB): some 30 to 1 on the real crops' labels.
MOTO_SERIES_DIGIT_ODDS = 30.0
_VN_MOTO = re.compile(rf"^(\d{{2}})([{VN_LETTERS}])([{VN_LETTERS}0-9])(\d{{4,5}})$")
#: Electric motorbikes (a series opened in the 2020s, five-digit numbers only): MĐ (spelt MD)
#: and a digit, 29-MĐ1 / 223.59.
_VN_ELECTRIC = re.compile(r"^(\d{2})(MD)([1-9])(\d{5})$")
_CN = re.compile(rf"^([{CN_PROVINCES}]?)([A-HJ-NP-Z])([A-HJ-NP-Z0-9]{{5,6}})$")
#: New-energy plates (GA 36-2018), six after the letter: small vehicles an energy letter (D, F
#: first; A-E battery, F-K hybrid once those run out), a letter or digit, four digits
#: (``桂A·D12345``, ``桂A·FB1234``); large vehicles five digits and the energy letter
#: (``桂A·12345D``).
_CN_NEW_ENERGY_SMALL = re.compile(r"^[A-HJK][A-HJ-NP-Z0-9]\d{4}$")
_CN_NEW_ENERGY_LARGE = re.compile(r"^\d{5}[A-HJK]$")


@dataclass(frozen=True)
class Plate:
    text: str  # canonical, no separators: 12C34567, 桂A12345, A12345
    display: str  # 12C-345.67, 桂A·12345
    country: Literal["VN", "CN"]
    kind: str  # vn, vn-trailer, vn-moto, cn, cn-new-energy
    fixed: bool = False  # a confusable was swapped to fit the format


def _vn_number(digits: str) -> str:
    return f"{digits[:3]}.{digits[3:]}" if len(digits) == 5 else digits


def _as_vn(
    text: str, lines: int, digits: str, letters: str, digit_odds: Sequence[float] | None
) -> Plate | None:
    """The reading that fits a Vietnamese format with the fewest characters swapped."""
    if len(text) < 7:
        return None
    head = digits[:2].translate(TO_DIGIT)
    candidates: list[Plate] = []
    if lines == 2:
        # 59-L2 149.99 / 54-T1 5417: motorbike two-line (letter + letter or digit), and
        # 29-MD1 223.59: electric motorbike (MĐ + digit); (pattern, fixed reading) per form
        forms = []
        if len(text) in (8, 9) and (len(text) == 9 or not text[3].isdigit()):
            second = text[3]
            if (
                second in DIGIT_LOOKALIKES
                and digit_odds is not None
                and digit_odds[3] * MOTO_SERIES_DIGIT_ODDS > 1
            ):
                # 59-C2 read 59-CZ: a letter there is rare, the reader is unsure, so a digit
                second = digits[3].translate(TO_DIGIT)
            forms.append((_VN_MOTO, letters[2].translate(TO_LETTER) + second))
        if len(text) == 10:
            forms.append((_VN_ELECTRIC, letters[2:4].translate(TO_LETTER) + text[4]))
        for pattern, series in forms:
            fixed = head + series + digits[2 + len(series) :].translate(TO_DIGIT)
            m = pattern.match(fixed)
            if m:
                p, s, s2, n = m.groups()
                candidates.append(
                    Plate(fixed, f"{p}-{s}{s2} {_vn_number(n)}", "VN", "vn-moto", fixed != text)
                )
    for series_len in (1, 2):
        series = letters[2 : 2 + series_len].translate(TO_LETTER)
        fixed = head + series + digits[2 + series_len :].translate(TO_DIGIT)
        m = _VN.match(fixed)
        if m and (len(m.group(2)) == 1 or m.group(2) in VN_SERIES_PAIRS):
            p, s, n = m.groups()
            kind = "vn-trailer" if s == "R" else "vn"
            candidates.append(Plate(fixed, f"{p}{s}-{_vn_number(n)}", "VN", kind, fixed != text))
    if not candidates:
        return None
    return min(candidates, key=lambda c: sum(a != b for a, b in zip(c.text, text, strict=True)))


def _as_cn(text: str, digits: str, letters: str, lines: int) -> Plate | None:
    """A Chinese plate. Two-line Chinese plates (large vehicles' rear plates, motorcycles) hold a
    province and a letter over five characters: the new-energy plates (six after the letter) are
    all one-line, so a two-line reading of that length is a one-line plate read the wrong way.
    A new-energy plate's digits are digits (``桂AD1O345`` is ``桂AD10345``)."""
    province = text[0] if text and text[0] in CN_PROVINCES else ""
    body = text[len(province) :]
    if len(body) < 6:
        return None
    start = len(province) + 1
    tail = body[1:].translate(CN_TAIL)
    if len(tail) == 6:
        if lines == 2:
            return None
        new_energy = _new_energy_tail(
            tail, letters[start].translate(TO_LETTER), digits[start:].translate(TO_DIGIT)
        )
        if new_energy is None:
            return None
        tail = new_energy
    fixed = province + letters[len(province)].translate(TO_LETTER) + tail
    m = _CN.match(fixed)
    if not m:
        return None
    prov, letter, tail = m.groups()
    kind = "cn-new-energy" if len(tail) == 6 else "cn"
    return Plate(fixed, f"{prov}{letter}·{tail}", "CN", kind, fixed != text)


def _new_energy_tail(tail: str, first_as_letter: str, as_digits: str) -> str | None:
    """The six characters after the letter as a small or a large new-energy plate, digits where
    the format wants them (``as_digits``: each character's digit reading; ``first_as_letter``:
    the first one's letter reading), the form that swaps fewer characters; or None."""
    forms = [
        form
        for form, pattern in (
            (first_as_letter + tail[1] + as_digits[2:], _CN_NEW_ENERGY_SMALL),
            (as_digits[:5] + tail[5], _CN_NEW_ENERGY_LARGE),
        )
        if pattern.match(form)
    ]
    if not forms:
        return None
    return min(forms, key=lambda form: sum(a != b for a, b in zip(form, tail, strict=True)))


def _reader_swaps(text: str, alternatives: str | None, lookalikes: dict[str, str]) -> str:
    """``text`` with each known lookalike replaced by the reader's own alternative for it (a
    character no table lists stays: a ``V`` is no digit, whatever the reader would make of it)."""
    if alternatives is None or len(alternatives) != len(text):
        return text
    return "".join(a if c in lookalikes else c for c, a in zip(text, alternatives, strict=True))


def normalise(
    raw: str,
    lines: int = 1,
    *,
    as_digit: str | None = None,
    as_letter: str | None = None,
    digit_odds: Sequence[float] | None = None,
) -> Plate | None:
    """The plate ``raw`` is, or None when it fits no known format.

    ``as_digit`` / ``as_letter`` (as long as ``raw``) say per character what it is if the format
    needs a digit / a letter there: the reader's own next-best of that kind (``59`` read ``5S``
    is ``59``, not the table's ``55``). Where they hold a character of the wrong kind, or are not
    given, the confusables table swaps it; only the table's lookalikes are ever swapped.
    ``digit_odds`` (per character, how much likelier the reader finds a digit than a letter)
    lets a motorbike series' second character be the digit it nearly always is."""
    text = "".join(c for c in raw.upper() if c.isalnum())
    if not text:
        return None
    digits = _reader_swaps(text, as_digit, DIGIT_LOOKALIKES)
    letters = _reader_swaps(text, as_letter, LETTER_LOOKALIKES)
    if text[0] in CN_PROVINCES:
        return _as_cn(text, digits, letters, lines)
    odds = digit_odds if digit_odds is not None and len(digit_odds) == len(text) else None
    if text[0].isdigit():
        return _as_vn(text, lines, digits, letters, odds)
    return _as_cn(text, digits, letters, lines) or _as_vn(text, lines, digits, letters, odds)
