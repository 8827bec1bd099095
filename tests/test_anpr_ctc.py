"""Decoding the reader's output: greedy CTC, and a next-best reading that fits a plate format
when the greedy one does not (with an honest, lower confidence)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.anpr import ctc
from edge_agent.anpr.charset import BLANK, INDEX, NUM_CLASSES
from edge_agent.anpr.engine import Anpr


def _steps(*steps: dict[str, float]) -> np.ndarray:
    """T x C log-probabilities; each step gives some classes ('' = blank) their probability,
    the rest share what is left."""
    rows = []
    for step in steps:
        row = np.full(NUM_CLASSES, 1e-6)
        for char, p in step.items():
            row[BLANK if char == "" else INDEX[char]] = p
        rest = max(1e-6, 1 - row.sum())
        row += rest / NUM_CLASSES
        rows.append(np.log(row / row.sum()))
    return np.array(rows, np.float32)


def _spell(text: str, p: float = 0.97) -> list[dict[str, float]]:
    out: list[dict[str, float]] = []
    for char in text:
        out += [{char: p}, {"": p}]
    return out


def test_greedy_collapses_repeats_only_without_a_blank_between() -> None:
    logp = _steps({"1": 0.9}, {"1": 0.95}, {"": 0.9}, {"1": 0.8}, {"": 0.9}, {"A": 0.7})
    text, confs = ctc.greedy(logp)
    assert text == "11A"
    assert [round(c, 2) for c in confs] == [0.95, 0.8, 0.7]


def test_candidates_are_ranked_and_share_the_probability() -> None:
    logp = _steps(*_spell("29C1234"), {"5": 0.6, "6": 0.4}, {"": 0.99})
    found = ctc.candidates(logp)
    assert found[0][0] == "29C12345" and found[1][0] == "29C12346"
    assert abs(found[0][1] - 0.6) < 0.05 and abs(found[1][1] - 0.4) < 0.05
    shares = [s for _, s in found]
    assert shares == sorted(shares, reverse=True) and sum(shares) <= 1.0 + 1e-9


def test_a_reading_that_fits_no_format_gives_way_to_the_next_that_does() -> None:
    # greedy reads a character no Vietnamese plate can end with
    logp = _steps(*_spell("29C12345"), {"桂": 0.55, "": 0.45}, {"": 0.99})
    assert ctc.greedy(logp)[0] == "29C12345桂"
    read = Anpr._decode(logp, 1)
    assert read.plate is not None and read.plate.display == "29C-123.45"
    assert read.raw == "29C12345"
    assert read.confidence < 0.5  # less sure than a plain reading, so the vote must confirm it


def test_a_reading_that_fits_is_kept_as_read() -> None:
    logp = _steps(*_spell("29C12345", 0.9))
    read = Anpr._decode(logp, 1)
    assert read.plate is not None and read.plate.text == "29C12345"
    assert read.confidence > 0.85


def test_garbage_stays_unread() -> None:
    read = Anpr._decode(_steps(*_spell("AAA")), 1)
    assert read.plate is None and read.raw == "AAA"


def test_a_swapped_character_is_the_readers_own_next_best_of_its_kind() -> None:
    # 59-F1 314.69 where the reader saw the 9 as an S, with a 9 its next-best digit
    steps = _spell("5")
    steps += [{"S": 0.9, "9": 0.06, "5": 0.01}, {"": 0.97}]
    steps += _spell("F131469")
    read = Anpr._decode(_steps(*steps), 2)
    assert read.plate is not None and read.plate.text == "59F131469"
    assert read.plate.fixed
    # the 9 is as sure as its share among the digits (0.06 of some 0.075, the rest spread
    # thinly over every class), not as sure as the S was
    assert 0.7 < read.char_confidences[1] < 0.86
    assert read.confidence == pytest.approx(min(read.char_confidences), abs=1e-4)


def test_alternatives_name_each_characters_best_digit_and_letter() -> None:
    steps = [{"S": 0.9, "9": 0.06}, {"": 0.97}, {"8": 0.5, "B": 0.45}, {"8": 0.6}, {"": 0.97}]
    alt = ctc.alternatives(_steps(*steps))
    assert (alt.as_digit, alt.as_letter) == ("98", "SB")
    assert alt.digit_share[1] == 1.0 and alt.letter_share[0] == 1.0
    # a class the reader rates below the floor everywhere is no opinion: the character stays
    alt = ctc.alternatives(_steps({"K": 0.999}, {"": 0.999}))
    assert alt.as_digit == "K" and alt.digit_share == (0.0,)


def test_digit_odds_weigh_every_digit_against_every_letter() -> None:
    alt = ctc.alternatives(_steps({"Z": 0.5, "2": 0.3, "7": 0.1}, {"": 0.97}))
    assert 0.6 < alt.digit_odds[0] < 0.9  # 0.4 of digits against 0.5 of letters, and the rest


def test_an_unsure_second_series_letter_on_a_motorbike_plate_is_read_as_its_digit() -> None:
    steps = [*_spell("59C"), {"Z": 0.55, "2": 0.4}, {"": 0.97}, *_spell("24729")]
    read = Anpr._decode(_steps(*steps), 2)
    assert read.plate is not None and read.plate.display == "59-C2 247.29"
    assert read.char_confidences[3] > 0.8  # the 2's share among the digits
    # read surely, two letters stand
    steps = _spell("59VA00843")
    read = Anpr._decode(_steps(*steps), 2)
    assert read.plate is not None and read.plate.display == "59-VA 008.43"
