"""The shipped detector on real photographs it never learnt from, and what it learns from: real
frames whose plates stay where their boxes say, rendered plates pasted over real ones.

The real sets lie in ``../shared/datasets`` (CI has them beside the checkout)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from edge_agent.anpr.engine import Anpr
from models.recipes import detector_data
from models.recipes.plate_paste import paste_plate
from testkit import ROOT
from testkit.real_frames import SETS, load, measure

DATASETS = ROOT.parent / "shared" / "datasets"
needs_datasets = pytest.mark.skipif(
    not (DATASETS / "frames-vn-dev" / "boxes.csv").exists(), reason="no ../shared/datasets"
)


@pytest.fixture(scope="module")
def anpr() -> Anpr:
    return Anpr()


@needs_datasets
def test_the_detector_finds_plates_in_real_frames_it_never_learnt_from(anpr: Anpr) -> None:
    figures = measure(anpr, DATASETS, SETS["ro_dashcam_valid"])
    assert figures["plates"] == 131
    assert float(figures["recall_iou50"]) >= RO_RECALL, figures  # type: ignore[arg-type]
    assert float(figures["false_boxes_per_frame"]) <= RO_FALSE, figures  # type: ignore[arg-type]


@needs_datasets
def test_vietnamese_plates_in_real_frames_are_found_and_read(anpr: Anpr) -> None:
    figures = measure(anpr, DATASETS, SETS["vn_frames"])
    assert figures["legible_plates"] == 75
    assert float(figures["recall_iou50"]) >= VN_RECALL, figures  # type: ignore[arg-type]
    assert float(figures["exact_end_to_end"]) >= VN_EXACT, figures  # type: ignore[arg-type]


@needs_datasets
def test_every_plate_text_read_by_a_person_names_a_drawn_box() -> None:
    real = SETS["vn_frames"]
    assert real.texts is not None
    drawn = load(DATASETS / real.folder, real.split)
    with_texts = load(DATASETS / real.folder, real.split, real.texts)
    lines = [
        line
        for line in real.texts.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) == sum(len(v) for v in drawn.values()) == 83
    assert all(text for boxes in with_texts.values() for _, text in boxes)


def _frame_with_a_plate() -> detector_data.Frame:
    """A grey 1280x720 frame with one bright 'plate' where its box says."""
    image = np.full((720, 1280, 3), 90, np.uint8)
    image[400:430, 600:700] = (250, 250, 250)
    return detector_data.Frame(image, np.array([[600, 400, 700, 430]], np.float32))


def test_training_crops_hold_the_plate_where_their_box_says() -> None:
    rng = random.Random(5)
    frame = _frame_with_a_plate()
    for _ in range(30):
        crop, boxes = detector_data.crop(frame, rng, near_plate=1.0)
        assert crop.shape == (detector_data.CROP_H, detector_data.CROP_W, 3)
        assert len(boxes) == 1
        x1, y1, x2, y2 = (round(float(v)) for v in boxes[0])
        inner = crop[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2]
        assert inner.size and inner.mean() > 230  # the plate's pixels, not the background


def test_a_pasted_plate_covers_the_real_one() -> None:
    rng = random.Random(9)
    for _ in range(10):
        frame = _frame_with_a_plate()
        image, (x1, y1, x2, y2) = paste_plate(frame.image, (600.0, 400.0, 700.0, 430.0), rng)
        assert x1 <= 602 and y1 <= 402 and x2 >= 698 and y2 >= 428
        # the real plate's bright face is gone: a rendered plate has characters on it
        assert image[400:430, 600:700].std() > 10


#: what the shipped detector must keep doing (bench/anpr.py prints the figures themselves)
RO_RECALL = 0.95
RO_FALSE = 0.3
VN_RECALL = 0.9
VN_EXACT = 0.65
