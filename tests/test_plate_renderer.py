"""The synthetic plate renderer: the project's stroke font covers the plate formats, its glyphs
are told apart, and plates come out with the text where a camera would see it."""

from __future__ import annotations

import itertools
import random

import cv2
import numpy as np
import pytest

from simulators.plates import stroke_font
from simulators.plates.render import STROKE, draw_plate, render_crop
from simulators.plates.texts import CN_LETTERS, DIGITS, VN_SERIES, cn_plate, vn_plate


def _norm(char: str) -> np.ndarray:
    mask = stroke_font.glyph_mask(char, 0.1)
    return cv2.resize(mask, (24, 48), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def test_every_plate_character_has_a_stroke_glyph() -> None:
    for char in sorted(set(VN_SERIES + CN_LETTERS + DIGITS + "R")):
        mask = stroke_font.glyph_mask(char, 0.1)
        h, w = mask.shape
        assert h > 100, char
        assert w < h, f"{char} is wider ({w}) than tall ({h}): plate faces are narrow"
        assert (mask > 128).mean() > 0.05, f"{char} has almost no ink"
    with pytest.raises(KeyError, match="no glyph"):
        stroke_font.glyph_mask("桂", 0.1)


def test_glyphs_are_told_apart_and_the_one_is_a_bare_stroke() -> None:
    chars = sorted(set(VN_SERIES + CN_LETTERS + DIGITS))
    for a, b in itertools.combinations(chars, 2):
        differ = float(np.abs(_norm(a) - _norm(b)).mean())
        assert differ > 0.05, f"{a} and {b} look alike ({differ:.3f})"
    one, zero = stroke_font.glyph_mask("1", 0.1), stroke_font.glyph_mask("0", 0.1)
    assert one.shape[1] < 0.7 * zero.shape[1]
    foot = one[-10:] > 128  # no foot: the bottom rows hold only the stem
    assert foot.any(axis=0).sum() < 0.5 * one.shape[1]


def test_the_four_comes_open_and_closed_as_on_real_plates() -> None:
    """Real plates draw the ``4`` open (its stem starts below the top, apart from the slanted
    left stroke) or closed; a reader taught only one form calls the other ``1`` or ``L``."""
    for form in ("open", "open-low", "open-steep"):
        four = stroke_font.glyph_mask("4", 0.1, form=form) > 128
        h, w = four.shape
        assert not four[: h // 4, int(w * 0.6) :].any(), f"the top right of the {form} 4 is empty"
        assert four[h // 2 :, w // 2 :].any(), f"the {form} 4 needs its stem in the lower right"
    for form in ("open-low", "open-steep"):
        low = stroke_font.glyph_mask("4", 0.1, form=form) > 128
        h, w = low.shape
        assert not low[: int(h * 0.4), int(w * 0.6) :].any(), f"the {form} stem starts low"
    closed = stroke_font.glyph_mask("4", 0.1, form="closed") > 128
    h, w = closed.shape
    assert closed[: h // 4, w // 2 :].any(), "the closed 4 meets its stem at the top"
    assert stroke_font.glyph_mask("4", 0.1).shape == (
        stroke_font.glyph_mask("4", 0.1, form="open").shape
    ), "the first form is the default"
    assert stroke_font.glyph_mask("7", 0.1, form="closed").shape == (
        stroke_font.glyph_mask("7", 0.1).shape
    ), "a glyph with one form ignores the form"
    with pytest.raises(KeyError, match="no 'round' form of '4'"):
        stroke_font.glyph_mask("4", 0.1, form="round")


def test_the_one_has_a_short_or_a_long_flag_and_stays_apart_from_the_seven() -> None:
    """The Vietnamese face's ``1`` has a long flag reaching a third of the way down: still a
    vertical stem, where the ``7`` slants."""
    short = stroke_font.glyph_mask("1", 0.1, form="short-flag") > 128
    long = stroke_font.glyph_mask("1", 0.1, form="long-flag") > 128
    assert long.shape[1] > 1.2 * short.shape[1], "the long flag reaches further left"
    h = long.shape[0]
    left = long[:, : long.shape[1] // 4]
    assert left[: h // 2].any() and not left[h // 2 :].any(), "the flag is in the top half"
    for one in (short, long):
        stem = np.flatnonzero(one[int(h * 0.5) :].any(axis=0))
        top = np.flatnonzero(one[int(h * 0.15) : int(h * 0.3)].any(axis=0))
        assert stem.max() >= top.max() - 2, "the stem stands upright under the flag's top"
    seven = cv2.resize(
        stroke_font.glyph_mask("7", 0.1), long.shape[::-1], interpolation=cv2.INTER_AREA
    )
    assert np.abs(seven.astype(np.float32) / 255 - long).mean() > 0.1


def test_the_m_is_wide_or_as_narrow_as_a_digit_with_its_vertex_at_half_height() -> None:
    wide = stroke_font.glyph_mask("M", 0.1, form="wide") > 128
    narrow = stroke_font.glyph_mask("M", 0.1, form="narrow") > 128
    digit = stroke_font.glyph_mask("0", 0.1) > 128
    assert wide.shape[1] > 1.2 * narrow.shape[1]
    assert narrow.shape[1] <= 1.1 * digit.shape[1], "the narrow M is no wider than a digit"
    for m, lowest in ((wide, 0.66), (narrow, 0.55)):
        h, w = m.shape
        middle = np.flatnonzero(m[:, w // 2 - 1 : w // 2 + 2].any(axis=1))
        assert abs(middle.max() / h - lowest) < 0.08, "where the middle vertex reaches down"
        bottom = m[int(h * 0.9) :]
        assert bottom[:, : w // 4].any() and bottom[:, -w // 4 :].any(), "both legs reach down"
        assert not bottom[:, w // 3 : -w // 3].any(), "the middle stays up"


def test_heavier_weights_put_more_ink_down() -> None:
    inks = [(stroke_font.glyph_mask("8", w) > 128).sum() for w in stroke_font.WEIGHTS]
    assert inks == sorted(inks) and inks[0] < inks[-1]


@pytest.mark.parametrize("kind", ["vn-truck", "vn-moto", "cn-blue", "cn-green"])
def test_a_plate_in_the_stroke_font_has_its_text_inside_the_plate(kind: str) -> None:
    rng = random.Random(kind)
    spec = vn_plate(rng, kind) if kind.startswith("vn") else cn_plate(rng, kind, "桂")
    plate = draw_plate(spec, rng, px_per_mm=1.0, font=STROKE)
    h, w = plate.shape[:2]
    gray = cv2.cvtColor(plate, cv2.COLOR_RGB2GRAY).astype(np.float32)
    inner = gray[int(h * 0.12) : int(h * 0.88), int(w * 0.1) : int(w * 0.9)]
    # ink covers part of the face, not none and not all of it
    ink = np.abs(inner - np.median(inner)) > 60
    assert 0.05 < ink.mean() < 0.6, ink.mean()
    # the ink is spread across the plate: every fifth of its width holds some
    cols = ink.any(axis=0)
    assert all(part.any() for part in np.array_split(cols, 5))


def test_camera_views_are_never_too_small_to_read() -> None:
    rng = random.Random("sizes")
    widths = [render_crop(vn_plate(rng), rng).shape[1] for _ in range(60)]
    assert min(widths) >= 48
    assert max(widths) > 200
