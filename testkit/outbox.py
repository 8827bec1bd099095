"""A gate box's outbox filled directly, as its lane would fill it while offline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from edge_agent.store import EdgeStore
from protocol.messages import WeightMeasured


def fill_outbox(db: Path, n: int, start_kg: float = 0) -> list[tuple[int, str]]:
    """Emit ``n`` events into the box's SQLite outbox at ``db``; their ``(seq, id)`` pairs."""
    store = EdgeStore(db, synchronous="NORMAL")
    emitted = []
    try:
        for first in range(0, n, 1000):
            now = datetime.now(UTC)
            events = [
                WeightMeasured(
                    at=now, checkpoint="barrier-in", kg=start_kg + first + i, stable=True
                )
                for i in range(min(1000, n - first))
            ]
            emitted += [(e.seq, e.id) for e in store.emit_many(events)]
    finally:
        store.close()
    return emitted
