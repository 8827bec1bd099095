"""A training set of reader renders that renews itself while the network trains.

A fixed set of renders is learnt by heart: the shipped reader reads the 300,000 renders it saw
~27 times each 99.9 % exactly and fresh ones 98.2 % (models/README.md). Rendering everything
up front costs minutes per 100,000 and memory per render; this set instead keeps ``slots``
chunks in memory and, every ``every`` training steps, puts the next chunk of the same endless
sequence (``reader_data.chunk_seed``) in place of the oldest one. Worker processes render the
next chunks while the network trains, so on a machine with spare cores (a GPU box) the renders
cost no training time.

Which chunk sits in which slot depends only on the step, never on how fast rendering went:
training waits for a chunk that is late (``waited_s`` says how long in all), so a run is the
same on any machine, and ``restore(step)`` rebuilds the set as it was at any step, for a
resumed run.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np

from models.recipes.reader_data import CHUNK, chunk_seed, render_chunk


class RenewingSet:
    """``lines`` / ``texts``: the first ``len(texts) // chunk`` chunks of ``seed``'s sequence
    (as ``reader_data.synthetic`` renders them, with the same shares and ``chunk``); they are
    renewed in place."""

    def __init__(
        self,
        lines: np.ndarray,
        texts: list[str],
        seed: int,
        every: int,
        *,
        vn_share: float = 0.5,
        moto_share: float = 0.0,
        small_share: float = 0.15,
        chunk: int = CHUNK,
        workers: int = 1,
        ahead: int | None = None,
    ) -> None:
        if every < 1:
            raise ValueError(f"renew every {every} steps: must be 1 or more")
        if not texts or len(texts) % chunk or len(lines) != len(texts):
            raise ValueError(
                f"a renewing set needs whole chunks: {len(texts)} renders is not a positive "
                f"multiple of {chunk}"
            )
        self.lines = lines
        self.texts = texts
        self.seed = seed
        self.every = every
        self.chunk = chunk
        self.slots = len(texts) // chunk
        self.shares = (vn_share, moto_share, small_share)
        self.replaced = 0  # chunks put in place so far
        self.waited_s = 0.0  # training time spent waiting for a late chunk
        self.ahead = ahead or 2 * workers
        self._pending: dict[int, Future[tuple[np.ndarray, list[str], list[int]]]] = {}
        # a fresh interpreter per worker: nothing of the trainer's (torch, CUDA) is inherited
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    def _job(self, index: int) -> tuple[int, int, float, float, float]:
        return (chunk_seed(self.seed, index), self.chunk, *self.shares)

    def chunk_in(self, slot: int, replaced: int | None = None) -> int:
        """The index (in the sequence) of the chunk that sits in ``slot`` once ``replaced``
        chunks have been put in place (default: now)."""
        done = self.replaced if replaced is None else replaced
        last = self.slots + done - 1  # the newest chunk in the set
        return last - (last - slot) % self.slots

    def _place(self, index: int, lines: np.ndarray, texts: list[str]) -> None:
        slot = index % self.slots
        start = slot * self.chunk
        self.lines[start : start + self.chunk] = lines
        self.texts[start : start + self.chunk] = texts

    def _prefetch(self) -> None:
        first = self.slots + self.replaced
        for index in range(first, first + self.ahead):
            if index not in self._pending:
                self._pending[index] = self._pool.submit(render_chunk, self._job(index))

    def advance(self, step: int) -> int:
        """Bring the set to what it is at ``step``: put in place every chunk due by then
        (waiting for any still rendering). Returns how many were put in place."""
        due = step // self.every
        placed = 0
        while self.replaced < due:
            index = self.slots + self.replaced
            future = self._pending.pop(index, None) or self._pool.submit(
                render_chunk, self._job(index)
            )
            ready, started = future.done(), time.monotonic()
            lines, texts, _ = future.result()
            if not ready:
                self.waited_s += time.monotonic() - started
            self._place(index, lines, texts)
            self.replaced += 1
            placed += 1
        self._prefetch()
        return placed

    def restore(self, step: int) -> None:
        """The set as it was at ``step`` of a run that started from the initial chunks (for a
        resumed run): the chunks renewed by then are rendered again, on every worker. Only on
        a set that still holds its initial chunks."""
        if self.replaced:
            raise RuntimeError("restore() needs the set as it started: it has been renewed")
        due = step // self.every
        renewed = sorted(
            {self.chunk_in(slot, due) for slot in range(self.slots)} - set(range(self.slots))
        )
        for index, (lines, texts, _) in zip(
            renewed, self._pool.map(render_chunk, [self._job(i) for i in renewed]), strict=True
        ):
            self._place(index, lines, texts)
        self.replaced = due
        self._pending.clear()
        self._prefetch()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> RenewingSet:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
