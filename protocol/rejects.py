"""Counting what was refused from outside, logging each kind once (then every 1000th)."""

from __future__ import annotations

import logging
import threading
from collections import Counter


class RejectCounter:
    """Counts rejected inputs by ``(where, what)``; never raises.

    The first rejection of each kind is logged with its reason, later ones only every
    ``log_every``-th time, so a box spraying garbage cannot flood the logs.
    """

    def __init__(self, logger: logging.Logger, log_every: int = 1000) -> None:
        self._logger = logger
        self._log_every = log_every
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def reject(self, where: str, what: str, reason: str) -> None:
        key = (where, what)
        with self._lock:
            self._counts[key] += 1
            n = self._counts[key]
        if n == 1 or n % self._log_every == 0:
            self._logger.warning(
                "rejected where=%s what=%s count=%d reason=%s", where, what, n, reason[:300]
            )

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f"{w}:{k}": n for (w, k), n in sorted(self._counts.items())}
