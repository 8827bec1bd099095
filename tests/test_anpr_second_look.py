"""How the second look at an unsure plate weighs its readings, how sure it then is, and what it
looks at."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.anpr.preprocess import check_image
from edge_agent.anpr.second_look import DISPUTED, LOOKS, looks, settle, weigh


def test_unsure_readings_that_agree_outweigh_a_lone_surer_one() -> None:
    readings = [("29C12345", 0.55), ("29C12346", 0.8), ("29C12345", 0.5)]
    assert weigh(readings) == 0  # 1.15 for 29C12345 against 0.85


def test_the_winning_plate_is_its_surest_reading_never_surer() -> None:
    readings = [("51F15585", 0.6), ("51F15586", 0.9), ("51F15585", 0.95), ("51F15585", 0.7)]
    assert weigh(readings) == 2


def test_readings_that_fit_no_plate_have_no_vote() -> None:
    assert weigh([(None, 0.99), ("51F15585", 0.3), (None, 0.97)]) == 1
    assert weigh([(None, 0.2), (None, 0.9)]) == 0  # nothing valid: the crop as it came
    with pytest.raises(ValueError, match="no readings"):
        weigh([])


def test_equal_votes_go_to_the_crop_as_it_came() -> None:
    assert weigh([("29C12345", 0.7), ("29C12346", 0.7)]) == 0


def test_a_plate_every_look_reads_keeps_its_confidence() -> None:
    readings = [("29C12345", 0.7), ("29C12345", 0.99), ("29C12345", 0.96)]
    assert settle(readings) == (1, 0.99)


def test_a_plate_one_look_reads_otherwise_is_never_sure_enough_to_decide_alone() -> None:
    # the looks mostly agree, and one of them very surely, but one framing reads another plate
    readings = [("29C12345", 0.8), ("29C12345", 0.99), ("29C12845", 0.6), ("29C12345", 0.97)]
    pick, confidence = settle(readings)
    assert readings[pick][0] == "29C12345"
    assert confidence == DISPUTED < 0.95  # below the lane's one-frame threshold
    # a look that fits no plate format disputes it too; an unsure pick stays as unsure
    assert settle([("29C12345", 0.97), (None, 0.4)]) == (0, DISPUTED)
    assert settle([("29C12345", 0.6), (None, 0.4)]) == (0, 0.6)
    # nothing valid: the crop as it came, as sure as it was
    assert settle([(None, 0.3), (None, 0.5)]) == (0, 0.3)


@pytest.mark.parametrize(
    "shape", [(110, 520, 3), (8, 16, 3), (9, 17, 3), (10, 19, 3), (14, 21, 3), (200, 280, 3)]
)
def test_every_look_keeps_most_of_the_crop(shape: tuple[int, int, int]) -> None:
    rgb = np.random.default_rng(1).integers(0, 255, shape, dtype=np.uint8)
    views = looks(rgb)
    assert len(views) == len(LOOKS)
    for view in views:
        assert view.dtype == np.uint8 and view.ndim == 3 and view.shape[2] == 3
        assert view.flags.c_contiguous
        assert view.shape[1] >= 0.9 * shape[1] and view.shape[0] >= 0.86 * shape[0]
        check_image(view, "look")  # the reader accepts every look of a crop it accepted
