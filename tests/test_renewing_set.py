"""The reader recipe's self-renewing training set: what it holds at a step depends on the step
alone, so a run renders the same renders on any machine and a resumed run carries on with the
set it stopped with."""

from __future__ import annotations

import numpy as np
import pytest

from models.recipes.reader_data import synthetic
from models.recipes.renewing_set import RenewingSet

SEED, CHUNK, SLOTS = 77, 4, 3


def _initial() -> tuple[np.ndarray, list[str]]:
    lines, texts, _ = synthetic(SLOTS * CHUNK, SEED, workers=1, progress=False, chunk=CHUNK)
    return lines, texts


def test_renewal_puts_the_next_chunks_of_the_sequence_in_place_of_the_oldest() -> None:
    # the sequence the set walks along: the same renders a bigger set of the seed holds
    sequence, texts_all, _ = synthetic(8 * CHUNK, SEED, workers=1, progress=False, chunk=CHUNK)
    lines, texts = _initial()
    assert texts == texts_all[: SLOTS * CHUNK]
    with RenewingSet(lines, texts, SEED, every=2, chunk=CHUNK, workers=1) as renewing:
        placed = sum(renewing.advance(step) for step in range(1, 12))
        assert placed == 5  # a chunk at steps 2, 4, 6, 8, 10
        # chunks 3..7 went into slots 0, 1, 2, 0, 1: slot 0 holds 6, slot 1 holds 7, slot 2 holds 5
        assert [renewing.chunk_in(slot) for slot in range(SLOTS)] == [6, 7, 5]
        for slot, index in enumerate((6, 7, 5)):
            mine = slice(slot * CHUNK, (slot + 1) * CHUNK)
            theirs = slice(index * CHUNK, (index + 1) * CHUNK)
            assert renewing.texts[mine] == texts_all[theirs]
            assert np.array_equal(renewing.lines[mine], sequence[theirs])


def test_a_resumed_run_gets_back_the_set_it_stopped_with() -> None:
    lines, texts = _initial()
    with RenewingSet(lines, texts, SEED, every=3, chunk=CHUNK, workers=1) as run:
        for step in range(1, 15):
            run.advance(step)
        lines2, texts2 = _initial()
        with RenewingSet(lines2, texts2, SEED, every=3, chunk=CHUNK, workers=1) as resumed:
            resumed.restore(14)
            assert resumed.texts == run.texts
            assert np.array_equal(resumed.lines, run.lines)
            # and both go on alike
            run.advance(20)
            resumed.advance(20)
            assert resumed.texts == run.texts
            with pytest.raises(RuntimeError, match="renewed"):
                resumed.restore(3)


def test_a_set_that_is_not_whole_chunks_is_refused_with_the_reason() -> None:
    lines, texts = _initial()
    with pytest.raises(ValueError, match="not a positive multiple of 5"):
        RenewingSet(lines, texts, SEED, every=1, chunk=5)
    with pytest.raises(ValueError, match="must be 1 or more"):
        RenewingSet(lines, texts, SEED, every=0, chunk=CHUNK)
