"""Decoding the reader's CTC output: the greedy path, and the next-best readings for when the
greedy one fits no plate format."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_agent.anpr.charset import BLANK, CHARS, INDEX


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


#: A class the reader rates below this at a character's steps is no opinion of its own.
OPINION_FLOOR = 1e-3
#: The reader's classes of the digits, then of the Latin letters (CHARS starts with both).
_KINDS = [INDEX[c] for c in CHARS[:36]]


@dataclass(frozen=True)
class Alternatives:
    """Per character of the greedy reading, what it is if the plate's format says it must be a
    digit (or a Latin letter): itself where it is one, else the one the reader rates likeliest at
    the steps it read the character at, with that one's share of the class (its confidence given
    the format). Where the reader rates every one of the class below ``OPINION_FLOOR`` the
    character stays itself (the normaliser's confusables table decides) with share 0.
    ``digit_odds``: how much likelier the reader finds any digit than any letter there."""

    as_digit: str
    as_letter: str
    digit_share: tuple[float, ...]
    letter_share: tuple[float, ...]
    digit_odds: tuple[float, ...]


def alternatives(logp: np.ndarray) -> Alternatives:
    best = logp.argmax(axis=1)
    # the steps that start a character of the greedy reading (not blank, not a repeat)
    starts = np.flatnonzero((best != BLANK) & (best != np.concatenate(([BLANK], best[:-1]))))
    if not len(starts):
        return Alternatives("", "", (), (), ())
    # per character: the probabilities of the two kinds, each the max over the character's
    # steps (its run of repeats; blanks after it are not its steps)
    runs_end = np.concatenate((starts[1:], [len(best)]))
    kinds = np.exp(logp[:, _KINDS].astype(np.float64))
    rows = np.stack(
        [
            kinds[a:b][best[a:b] == best[a]].max(axis=0)
            for a, b in zip(starts.tolist(), runs_end.tolist(), strict=True)
        ]
    )
    picks, shares = {}, {}
    masses = rows[:, :10].sum(axis=1), rows[:, 10:].sum(axis=1)
    odds = tuple((masses[0] / np.maximum(masses[1], 1e-30)).tolist())
    for kind, cols in (("digit", slice(0, 10)), ("letter", slice(10, 36))):
        cls = rows[:, cols]
        pick = cls.argmax(axis=1)
        top = cls[np.arange(len(cls)), pick]
        picks[kind] = (pick + cols.start, top >= OPINION_FLOOR)
        shares[kind] = np.where(top >= OPINION_FLOOR, top / np.maximum(cls.sum(axis=1), 1e-30), 0.0)
    out: dict[str, list[str]] = {"digit": [], "letter": []}
    share: dict[str, list[float]] = {"digit": [], "letter": []}
    for i, k in enumerate(best[starts].tolist()):
        own = CHARS[k - 1]
        for kind, own_kind in (
            ("digit", own.isdigit()),
            ("letter", own.isascii() and own.isalpha()),
        ):
            pick, opinion = picks[kind]
            if own_kind or not opinion[i]:
                out[kind].append(own)
                share[kind].append(1.0 if own_kind else 0.0)
            else:
                out[kind].append(CHARS[int(pick[i])])
                share[kind].append(float(shares[kind][i]))
    return Alternatives(
        "".join(out["digit"]),
        "".join(out["letter"]),
        tuple(share["digit"]),
        tuple(share["letter"]),
        odds,
    )


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
