"""The synthetic held-out plate set the ANPR benches read, and a reading as one string."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from simulators.plates.render import Look, render_crop
from simulators.plates.texts import PlateSpec, random_plate

if TYPE_CHECKING:
    from edge_agent.anpr.engine import PlateResult

#: As ``models/recipes/reader_data.py``: never used for training.
SEED_HELDOUT = 424242


def heldout(n: int) -> Iterator[tuple[int, PlateSpec, Look, np.ndarray]]:
    """The synthetic held-out set in order, ``(index, plate, look, RGB crop)``: the same crops on
    every run (``SEED_HELDOUT``, never used in training)."""
    rng = random.Random(SEED_HELDOUT)
    for i in range(n):
        spec = random_plate(rng)
        look = Look(difficulty=rng.uniform(0.2, 1.0))
        yield i, spec, look, render_crop(spec, rng, look)


def text_of(result: PlateResult) -> str:
    """The plate as read: the normalised plate where it fits a format, else the raw reading."""
    return result.plate.text if result.plate else result.raw
