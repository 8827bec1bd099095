"""Made-up traffic for demos and benchmarks: plate reads, weights and decisions at a set rate.

It decides with the cached declarations (open when an accepted declaration matches the plate,
hold otherwise), so a demo shows declarations flowing down and decisions flowing up. The real
lane state machine with devices replaces it at a real gate.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from datetime import UTC, datetime
from typing import Literal

from edge_agent.store import EdgeStore
from protocol.messages import LaneDecision, PlateRead, WeightMeasured

DEMO_PLATES = (
    "12C-345.67",
    "14C-123.45",
    "29H-888.12",
    "20C-456.78",
    "桂A4K9X1",
    "桂B12345",
    "98C-111.22",
)

log = logging.getLogger("cuakhau.agent.synthetic")


def one_truck(store: EdgeStore, gate: str, checkpoint: str, rng: random.Random) -> None:
    plate = rng.choice(DEMO_PLATES)
    kg = round(rng.uniform(9000, 38000), -1)
    now = datetime.now(UTC)
    declarations = store.declarations.for_plate(plate)
    accepted = [d for d in declarations if d.status == "accepted"]
    decision: Literal["open", "hold"]
    if accepted:
        decision, reasons, number = "open", [], accepted[0].number
    elif declarations:
        decision, reasons, number = "hold", [f"declaration_{declarations[0].status}"], None
    else:
        decision, reasons, number = "hold", ["unknown_plate"], None
    country: Literal["VN", "CN"] = "CN" if plate.startswith("桂") else "VN"
    with store.transaction() as tx:
        tx.emit(
            PlateRead(at=now, checkpoint=checkpoint, plate=plate, country=country, confidence=0.97)
        )
        tx.emit(WeightMeasured(at=now, checkpoint=checkpoint, kg=kg, stable=True, plate=plate))
        tx.emit(
            LaneDecision(
                at=now,
                checkpoint=checkpoint,
                plate=plate,
                decision=decision,
                reasons=reasons,
                declaration=number,
                weight_kg=kg,
            )
        )


def run_synthetic(
    store: EdgeStore,
    gate: str,
    checkpoint: str,
    rate_per_s: float,
    count: int,
    stop: threading.Event,
    seed: int = 7,
) -> int:
    """Emit ``count`` trucks (0: until ``stop``) at ``rate_per_s``; returns trucks emitted."""
    rng = random.Random(seed)
    period = 1.0 / rate_per_s if rate_per_s > 0 else 0.0
    emitted = 0
    next_at = time.monotonic()
    while not stop.is_set() and (count == 0 or emitted < count):
        try:
            one_truck(store, gate, checkpoint, rng)
        except sqlite3.OperationalError as exc:  # the disk full: wait for room, go on
            log.error("synthetic events paused: the store cannot commit (%s)", exc)
            stop.wait(1.0)
            continue
        emitted += 1
        next_at += period
        delay = next_at - time.monotonic()
        if delay > 0:
            stop.wait(delay)
    return emitted
