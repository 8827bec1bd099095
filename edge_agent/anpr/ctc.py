"""Decoding the reader's CTC output: the greedy path, and the next-best readings for when the
greedy one fits no plate format."""

from __future__ import annotations

import numpy as np

from edge_agent.anpr.charset import BLANK, CHARS


def greedy(logp: np.ndarray) -> tuple[str, list[float]]:
    """(text, per-character probability) of the best path through T x C log-probabilities."""
    best = logp.argmax(axis=1)
    probs = np.exp(logp.max(axis=1))
    chars: list[str] = []
    confs: list[float] = []
    prev = BLANK
    for k, p in zip(best.tolist(), probs.tolist(), strict=True):
        if k != BLANK and k != prev:
            chars.append(CHARS[k - 1])
            confs.append(p)
        elif k != BLANK and k == prev and confs:
            confs[-1] = max(confs[-1], p)
        prev = k
    return "".join(chars), confs


def candidates(logp: np.ndarray, beam: int = 12, per_step: int = 5) -> list[tuple[str, float]]:
    """The ``beam`` likeliest texts (CTC prefix beam search, alignments summed), best first,
    each with its share of the probability the beam holds."""
    probs = np.exp(logp.astype(np.float64))
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (1.0, 0.0)}  # (ends blank, not)
    for row in probs:
        top = [int(c) for c in np.argpartition(row, -per_step)[-per_step:] if row[c] >= 1e-4]
        nxt: dict[tuple[int, ...], list[float]] = {}
        for prefix, (p_blank, p_char) in beams.items():
            for c in top:
                pc = float(row[c])
                if c == BLANK:
                    nxt.setdefault(prefix, [0.0, 0.0])[0] += (p_blank + p_char) * pc
                elif prefix and c == prefix[-1]:
                    # a repeat only makes a new character after a blank
                    nxt.setdefault((*prefix, c), [0.0, 0.0])[1] += p_blank * pc
                    nxt.setdefault(prefix, [0.0, 0.0])[1] += p_char * pc
                else:
                    nxt.setdefault((*prefix, c), [0.0, 0.0])[1] += (p_blank + p_char) * pc
        kept = sorted(nxt.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:beam]
        total = sum(b + n for _, (b, n) in kept) or 1.0
        beams = {k: (b / total, n / total) for k, (b, n) in kept}  # rescale: no underflow
    ranked = sorted(beams.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))
    mass = sum(b + n for _, (b, n) in ranked) or 1.0
    return [("".join(CHARS[k - 1] for k in prefix), (b + n) / mass) for prefix, (b, n) in ranked]
