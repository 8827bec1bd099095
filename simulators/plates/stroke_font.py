"""The project's own stroke font for plate faces.

Vietnamese plates (and the Latin part of Chinese plates) are set in a narrow, even-stroke face
close to DIN 1451: no serifs, a bare ``1`` with a flag and no foot, a ``4`` open (its stem
starts below the top, apart from the slanted left stroke) or closed, stadium-shaped ``0``. None
of the Debian fonts looks like it, so each glyph is drawn here as strokes in a unit box (x 0..1
left to right, y 0..1 top to bottom) and rasterised with round joins at any stroke weight.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

Point = tuple[float, float]
Stroke = list[Point]


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float) -> Stroke:
    """Points on an ellipse from angle a0 to a1 (degrees; 0 = right, 90 = down)."""
    n = max(4, int(abs(a1 - a0) / 10))
    return [
        (cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
        for a in np.linspace(a0, a1, n + 1)
    ]


def _stadium(x0: float, x1: float) -> Stroke:
    r = (x1 - x0) / 2
    cx = (x0 + x1) / 2
    ry = min(0.25, r * 1.1)
    return [
        *_arc(cx, ry, r, ry, 180, 360),
        *_arc(cx, 1 - ry, r, ry, 0, 180),
        (x0, ry),
    ]


GLYPHS: dict[str, list[Stroke]] = {
    "0": [_stadium(0.0, 1.0)],
    "1": [[(0.18, 0.2), (0.62, 0.0), (0.62, 1.0)]],
    "2": [[*_arc(0.5, 0.27, 0.5, 0.27, 190, 385), (0.0, 1.0), (1.0, 1.0)]],
    "3": [[(0.05, 0.0), (0.95, 0.0), (0.42, 0.42)], _arc(0.5, 0.71, 0.5, 0.29, -95, 160)],
    "4": [[(0.26, 0.0), (0.0, 0.68), (1.0, 0.68)], [(0.74, 0.34), (0.74, 1.0)]],
    "5": [[(0.92, 0.0), (0.1, 0.0), (0.04, 0.47)], _arc(0.5, 0.69, 0.5, 0.31, -150, 155)],
    "6": [_arc(0.5, 0.7, 0.5, 0.3, 0, 360), [(0.0, 0.7), *_arc(0.5, 0.3, 0.5, 0.3, 180, 315)]],
    "7": [[(0.0, 0.0), (1.0, 0.0), (0.32, 1.0)]],
    "8": [_arc(0.5, 0.245, 0.42, 0.245, 0, 360), _arc(0.5, 0.72, 0.5, 0.28, 0, 360)],
    "9": [_arc(0.5, 0.3, 0.5, 0.3, 0, 360), [(1.0, 0.3), *_arc(0.5, 0.7, 0.5, 0.3, 0, 135)]],
    "A": [[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)], [(0.2, 0.64), (0.8, 0.64)]],
    "B": [
        [(0.55, 0.48), (0.0, 0.48), (0.0, 0.0), (0.55, 0.0), *_arc(0.55, 0.24, 0.4, 0.24, -90, 90)],
        [(0.0, 0.48), (0.0, 1.0), (0.6, 1.0), *_arc(0.6, 0.74, 0.4, 0.26, 90, -90), (0.55, 0.48)],
    ],
    "C": [_arc(0.52, 0.5, 0.52, 0.5, 320, 40)],
    "D": [[(0.45, 0.0), (0.0, 0.0), (0.0, 1.0), (0.45, 1.0), *_arc(0.45, 0.5, 0.55, 0.5, 90, -90)]],
    "Đ": [
        [(0.6, 0.0), (0.2, 0.0), (0.2, 1.0), (0.6, 1.0), *_arc(0.6, 0.5, 0.4, 0.5, 90, -90)],
        [(0.0, 0.5), (0.45, 0.5)],
    ],
    "E": [[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0), (1.0, 1.0)], [(0.0, 0.48), (0.82, 0.48)]],
    "F": [[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0)], [(0.0, 0.48), (0.82, 0.48)]],
    "G": [[*_arc(0.52, 0.5, 0.5, 0.5, 320, 10), (1.0, 0.55), (0.55, 0.55)]],
    "H": [[(0.0, 0.0), (0.0, 1.0)], [(1.0, 0.0), (1.0, 1.0)], [(0.0, 0.48), (1.0, 0.48)]],
    "I": [[(0.5, 0.0), (0.5, 1.0)]],
    "J": [[(1.0, 0.0), (1.0, 0.72), *_arc(0.5, 0.72, 0.5, 0.28, 0, 170)]],
    "K": [[(0.0, 0.0), (0.0, 1.0)], [(1.0, 0.0), (0.0, 0.64)], [(0.32, 0.44), (1.0, 1.0)]],
    "L": [[(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]],
    "M": [[(0.0, 1.0), (0.0, 0.0), (0.5, 0.66), (1.0, 0.0), (1.0, 1.0)]],
    "N": [[(0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]],
    "O": [_arc(0.5, 0.5, 0.5, 0.5, 0, 360)],
    "P": [
        [(0.0, 1.0), (0.0, 0.0), (0.55, 0.0), *_arc(0.55, 0.27, 0.45, 0.27, -90, 90), (0.0, 0.54)]
    ],
    "Q": [_stadium(0.0, 1.0), [(0.6, 0.72), (1.0, 1.05)]],
    "R": [
        [(0.0, 1.0), (0.0, 0.0), (0.55, 0.0), *_arc(0.55, 0.27, 0.45, 0.27, -90, 90), (0.0, 0.54)],
        [(0.45, 0.54), (1.0, 1.0)],
    ],
    "S": [_arc(0.5, 0.26, 0.48, 0.26, 340, 90), _arc(0.5, 0.74, 0.5, 0.26, -90, 160)],
    "T": [[(0.0, 0.0), (1.0, 0.0)], [(0.5, 0.0), (0.5, 1.0)]],
    "U": [[(0.0, 0.0), *_arc(0.5, 0.7, 0.5, 0.3, 180, 0), (1.0, 0.0)]],
    "V": [[(0.0, 0.0), (0.5, 1.0), (1.0, 0.0)]],
    "W": [[(0.0, 0.0), (0.22, 1.0), (0.5, 0.3), (0.78, 1.0), (1.0, 0.0)]],
    "X": [[(0.0, 0.0), (1.0, 1.0)], [(1.0, 0.0), (0.0, 1.0)]],
    "Y": [[(0.0, 0.0), (0.5, 0.52), (1.0, 0.0)], [(0.5, 0.52), (0.5, 1.0)]],
    "Z": [[(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]],
}

#: Glyph box width as a share of its height (the ``1`` and ``I`` are narrower).
WIDTH = {"Đ": 0.56, "1": 0.32, "I": 0.1, "M": 0.62, "O": 0.66, "Q": 0.62, "W": 0.7}
DEFAULT_WIDTH = 0.5
#: Stroke weights (share of the glyph height) the renderer picks from.
WEIGHTS = (0.07, 0.09, 0.11, 0.13, 0.15)


#: Other forms real plates draw of some glyphs: name -> (strokes, glyph box width). The first
#: form of each is the one in ``GLYPHS``. The ``4``: open (stem from a third down), open with a
#: low stem and a flatter diagonal (the stem starts half way down: many VN car plates), open
#: with a low stem and an almost upright left stroke (VN motorbike plates: an ``L`` with a short
#: stem, which a reader not taught it calls ``L`` or ``1``), closed (the diagonal meets the stem
#: at the top). The ``1``: a short flag, or the long one of the Vietnamese face, which a reader
#: taught only the short one calls ``7``. The ``M``: wide, or as narrow as a digit with its
#: middle vertex at half height (VN motorbike plates: read ``H`` or ``N`` by a reader that knows
#: only the wide one).
FORMS: dict[str, dict[str, tuple[list[Stroke], float]]] = {
    "1": {
        "short-flag": (GLYPHS["1"], WIDTH["1"]),
        "long-flag": ([[(0.0, 0.34), (0.7, 0.0), (0.7, 1.0)]], 0.44),
    },
    "M": {
        "wide": (GLYPHS["M"], WIDTH["M"]),
        "narrow": ([[(0.0, 1.0), (0.0, 0.0), (0.5, 0.55), (1.0, 0.0), (1.0, 1.0)]], 0.46),
    },
    "4": {
        "open": (GLYPHS["4"], DEFAULT_WIDTH),
        "open-low": ([[(0.44, 0.0), (0.0, 0.72), (1.0, 0.72)], [(0.72, 0.48), (0.72, 1.0)]], 0.54),
        "open-steep": ([[(0.16, 0.0), (0.0, 0.72), (1.0, 0.72)], [(0.74, 0.48), (0.74, 1.0)]], 0.5),
        "closed": ([[(0.72, 1.0), (0.72, 0.0), (0.0, 0.7), (1.0, 0.7)]], DEFAULT_WIDTH),
    },
}


@lru_cache(maxsize=1024)
def glyph_mask(char: str, weight: float, height: int = 120, form: str | None = None) -> np.ndarray:
    """A tightly cropped glyph mask (uint8, 255 = ink) of ``char`` at stroke ``weight``, in
    one of its ``FORMS`` where it has several (the first by default)."""
    if char in "-.·":
        return np.full((8, 8), 255, np.uint8)
    strokes, box = GLYPHS.get(char), WIDTH.get(char, DEFAULT_WIDTH)
    if strokes is None:
        raise KeyError(f"the plate stroke font has no glyph for {char!r}")
    if form is not None and char in FORMS:
        if form not in FORMS[char]:
            raise KeyError(f"the plate stroke font has no {form!r} form of {char!r}")
        strokes, box = FORMS[char][form]
    thickness = max(2, round(weight * height))
    width = max(1, round(box * height))
    margin = thickness + 2
    canvas = np.zeros((height + 2 * margin, width + 2 * margin), np.uint8)
    scale = 8  # sub-pixel precision for cv2's fixed-point drawing
    for stroke in strokes:
        points = np.array(
            [[(margin + x * width) * scale, (margin + y * height) * scale] for x, y in stroke],
            np.int32,
        )
        cv2.polylines(canvas, [points], False, 255, thickness, cv2.LINE_AA, shift=3)
    ys, xs = np.nonzero(canvas > 40)
    return canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy()
