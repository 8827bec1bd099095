"""Agreeing on a plate across the frames of one vehicle's pass."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from edge_agent.anpr.engine import PlateResult


@dataclass(frozen=True)
class VoteResult:
    text: str
    display: str
    country: str
    votes: int
    total: int
    confidence: float  # mean confidence of the agreeing reads
    best: PlateResult


class PlateVote:
    """Collects reads; ``decided`` once ``agree`` valid reads name the same plate.

    Reads that fit no plate format or fall below ``min_confidence`` are counted but do not vote.
    """

    def __init__(self, agree: int = 3, min_confidence: float = 0.5) -> None:
        self.agree = agree
        self.min_confidence = min_confidence
        self.total = 0
        self._reads: dict[str, list[PlateResult]] = defaultdict(list)

    def add(self, read: PlateResult) -> None:
        self.total += 1
        if read.plate is None or read.confidence < self.min_confidence:
            return
        self._reads[read.plate.text].append(read)

    def leader(self, prefer: Callable[[str], bool] | None = None) -> VoteResult | None:
        """The plate with most votes; with ``prefer``, a preferred plate that has reached
        ``agree`` votes comes first (e.g. one the declaration cache knows)."""
        if not self._reads:
            return None
        items = list(self._reads.items())
        if prefer is not None:
            preferred = [kv for kv in items if len(kv[1]) >= self.agree and prefer(kv[0])]
            items = preferred or items
        text, reads = max(items, key=lambda kv: (len(kv[1]), sum(r.confidence for r in kv[1])))
        best = max(reads, key=lambda r: r.confidence)
        assert best.plate is not None
        return VoteResult(
            text,
            best.plate.display,
            best.plate.country,
            len(reads),
            self.total,
            sum(r.confidence for r in reads) / len(reads),
            best,
        )

    @property
    def decided(self) -> bool:
        lead = self.leader()
        return lead is not None and lead.votes >= self.agree
