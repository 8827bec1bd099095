"""Plate keys shared by the box's declaration cache and central's lookups.

The Lang Son platform stores Chinese plates without the province character (``A4K9X1`` for
``桂A4K9X1``); both forms must find the same declaration, so the key drops it. Vietnamese plates
lose their separators: ``12C-345.67`` -> ``12C34567``.
"""

from __future__ import annotations

import re

#: The one-character abbreviations of China's provinces, regions and municipalities.
CN_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
#: The letters Vietnamese plate series use (R: trailers); never I, J, O, Q or W.
VN_LETTERS = "ABCDEFGHKLMNPRSTUVXYZ"

_SEPARATORS = re.compile(r"[\s\-.·_/]+")
_KEY = re.compile(r"^[A-Z0-9]{4,12}$")


def plate_key(plate: str) -> str:
    """Normalise a plate to its lookup key; ValueError if nothing plate-like remains."""
    text = _SEPARATORS.sub("", plate.strip()).upper()
    if text and text[0] in CN_PROVINCES:
        text = text[1:]
    if not _KEY.match(text):
        raise ValueError(f"not a licence plate: {plate!r}")
    return text


_VN_KEY = re.compile(rf"^\d{{2}}[{VN_LETTERS}]{{1,2}}\d{{4,5}}$")
_VN_TWO_LINE_KEY = re.compile(rf"^\d{{2}}[{VN_LETTERS}][{VN_LETTERS}0-9]\d{{4,5}}$")
_CN_KEY = re.compile(r"^[A-HJ-NP-Z][A-HJ-NP-Z0-9]{5,6}$")


def plate_problem(plate: str, nationality: str) -> str | None:
    """Why ``plate`` is not a plate of ``nationality`` (VN: one-line ``12C-345.67``, two-line
    ``59-X1 123.45``, trailer ``12R-004.56``; CN: ``桂A4K9X1`` with or without the province
    character), or None when it is one."""
    try:
        key = plate_key(plate)
    except ValueError as exc:
        return str(exc)
    if nationality == "VN":
        if _VN_KEY.match(key) or _VN_TWO_LINE_KEY.match(key):
            return None
        return f"{plate!r} is not a Vietnamese plate (e.g. 12C-345.67, 59-X1 123.45, 12R-004.56)"
    if nationality == "CN":
        if _CN_KEY.match(key):
            return None
        return f"{plate!r} is not a Chinese plate (e.g. 桂A4K9X1 or A4K9X1)"
    return f"unknown nationality {nationality!r}"
