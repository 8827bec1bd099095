"""A second look at a plate the reader was not sure of: the same crop a little tighter (three
ways) and tilted a little either way, read in one batch, and the readings weighed together.

A crop from the detector or a camera rarely frames the plate as the reader was trained on: a
margin of bumper, a plate a few degrees off level. The looks below are cheap (a slice or one
affine warp of a small crop) and are taken only when the first reading is not sure or the crop
is small (see ``engine.SMALL_CROP``), so a clear plate close by costs nothing more. Where the
looks do not all read the same plate, the reading they settle on is never sure enough for the
lane to decide on one frame (``settle``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

#: Degrees of the two tilted looks.
TILT = 2.5
#: A valid reading's weight in the vote is its confidence plus this (so that several unsure
#: readings that agree outweigh one lone reading that is a little surer).
AGREEMENT_BONUS = 0.05
#: The most a settled reading is sure of when any look reads otherwise: a plate that a slightly
#: different framing reads as another is not sure enough to be decided on from one frame (the
#: lane does that from 0.95, ``IdentifySettings.fast_confidence``). On 2,000 renders of an unused
#: seed this cut the readings at 0.95 or more that are wrong from 14 to 3 (sure readings 1,950 to
#: 1,918); on the CCPD eval half from 4 to 2.
DISPUTED = 0.9


def _tighter(fx: float, fy: float) -> Callable[[np.ndarray], np.ndarray]:
    def look(rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        dx, dy = int(w * fx), int(h * fy)
        return rgb[dy : h - dy, dx : w - dx]

    return look


def _tilted(degrees: float) -> Callable[[np.ndarray], np.ndarray]:
    def look(rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
        return cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE)

    return look


#: (name, look): every look keeps at least 90 % of the crop's width and 86 % of its height, and
#: nothing of a crop at the reader's minimum (16 x 8): a look is always a crop it accepts.
LOOKS: tuple[tuple[str, Callable[[np.ndarray], np.ndarray]], ...] = (
    ("tighter", _tighter(0.03, 0.05)),
    ("narrower", _tighter(0.05, 0.0)),
    ("shorter", _tighter(0.0, 0.07)),
    ("tilted left", _tilted(TILT)),
    ("tilted right", _tilted(-TILT)),
)


def looks(rgb: np.ndarray) -> list[np.ndarray]:
    """The second looks at one checked plate crop (HxWx3 RGB uint8), contiguous arrays."""
    return [np.ascontiguousarray(look(rgb)) for _, look in LOOKS]


def weigh(readings: Sequence[tuple[str | None, float]]) -> int:
    """Which of ``readings`` (plate text, or None where the reading fits no plate format; and
    its confidence) the looks agree on: valid readings vote for their plate with their
    confidence plus ``AGREEMENT_BONUS``, and the winning plate's surest reading is chosen, so
    the choice is never surer than one look of it. Ties go to the earlier reading; with no
    valid reading, the first (the crop as it came)."""
    if not readings:
        raise ValueError("no readings to weigh")
    votes: dict[str, float] = {}
    for text, confidence in readings:
        if text is not None:
            votes[text] = votes.get(text, 0.0) + confidence + AGREEMENT_BONUS
    if not votes:
        return 0
    winner = max(votes, key=lambda text: votes[text])  # the first of equals: dicts keep order
    best = max(
        (k for k, (text, _) in enumerate(readings) if text == winner),
        key=lambda k: readings[k][1],
    )
    return best


def settle(readings: Sequence[tuple[str | None, float]]) -> tuple[int, float]:
    """(which of ``readings`` to take, how sure it is): the one ``weigh`` picks, with its own
    confidence where every reading names its plate, else at most ``DISPUTED``."""
    pick = weigh(readings)
    text, confidence = readings[pick]
    if text is not None and any(other != text for other, _ in readings):
        confidence = min(confidence, DISPUTED)
    return pick, confidence
