"""Crossings for tests and benches: a truck's events at a lane as a box reports them, a box's
outbox filled with trucks, small real JPEG plate crops, and a raw GET (a crop's bytes)."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from protocol.messages import Event, LaneDecision, ManualOverride, PlateRead, Presence

if TYPE_CHECKING:
    from central.store import CentralStore

#: When the made-up trucks start arriving, by default.
START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def crop_jpeg(n: int) -> bytes:
    """A small real JPEG (a plate-sized grey patch), different for every ``n`` < 2^24."""
    import cv2
    import numpy as np

    image = np.full((32, 128), 200, dtype=np.uint8)
    for bit in range(24):
        if n >> bit & 1:
            row, col = divmod(bit, 12)
            image[4 + row * 12 : 12 + row * 12, 4 + col * 10 : 12 + col * 10] = 20
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return bytes(data.tobytes())


def plate_of(n: int) -> str:
    """A Vietnamese plate's display form, different for every ``n`` < 8,900,000."""
    return f"{10 + n % 89:02d}C-{n // 89 % 1000:03d}.{n // 89_000 % 100:02d}"


def truck_events(
    at: datetime,
    plate: str,
    *,
    checkpoint: str = "barrier-in",
    hold: bool = False,
    override_by: str | None = None,
    declaration: str | None = None,
    crop: bytes | None = None,
    weight_kg: float | None = 24_500.0,
) -> list[Event]:
    """One truck at a lane, as a box reports it: the plate read (with its crop), the lane's
    decision (the same crop), a manual override when a held truck is opened by ``override_by``,
    and the loop clear again. Three events, four with an override."""
    reasons = ["declaration_missing"] if hold else []
    events: list[Event] = [
        PlateRead(
            at=at, checkpoint=checkpoint, plate=plate, country="VN", confidence=0.97, crop_jpeg=crop
        ),
        LaneDecision(
            at=at + timedelta(milliseconds=400),
            checkpoint=checkpoint,
            plate=plate,
            decision="hold" if hold else "open",
            reasons=reasons,
            declaration=declaration,
            weight_kg=weight_kg,
            crop_jpeg=crop,
        ),
    ]
    if hold and override_by:
        events.append(
            ManualOverride(
                at=at + timedelta(seconds=30),
                checkpoint=checkpoint,
                by=override_by,
                reason="papers checked at the window",
                plate=plate,
            )
        )
    events.append(Presence(at=at + timedelta(seconds=40), checkpoint=checkpoint, present=False))
    return events


class Box:
    """A box's events, numbered as its outbox numbers them, stored straight into central's
    store (what ingest does with a batch)."""

    def __init__(
        self,
        store: CentralStore,
        device: str = "b1",
        gate: str | None = "CKHN",
        start: datetime = START,
    ) -> None:
        self.store = store
        self.device = device
        self.start = start
        self.seq = 0
        if gate:
            store.note_gate(device, gate)

    def number(self, events: list[Event]) -> list[Event]:
        out = []
        for e in events:
            self.seq += 1
            out.append(msgspec.structs.replace(e, seq=self.seq, id=f"{self.device}-{self.seq}"))
        return out

    def send(self, events: list[Event]) -> list[Event]:
        numbered = self.number(events)
        self.store.ingest(self.device, numbered)
        return numbered

    def truck(self, minute: float, plate: str, **options: Any) -> list[Event]:
        return self.send(truck_events(self.start + timedelta(minutes=minute), plate, **options))


def fill_outbox_trucks(
    db: Path,
    trucks: int,
    *,
    start: datetime = START,
    hold_every: int = 20,
    checkpoint: str = "barrier-in",
    first: int = 0,
) -> int:
    """Emit ``trucks`` trucks' events (``truck_events``; every ``hold_every``-th held, every
    other held one opened by hand) into a box's outbox at ``db``; the number of events. Truck
    ``i`` (counted from ``first``) has plate ``plate_of(i)`` and crop ``crop_jpeg(i)``."""
    from edge_agent.store import EdgeStore

    store = EdgeStore(db, synchronous="NORMAL")
    emitted = 0
    try:
        for chunk in range(first, first + trucks, 200):
            events: list[Event] = []
            for i in range(chunk, min(first + trucks, chunk + 200)):
                hold = i % hold_every == hold_every - 1
                events += truck_events(
                    start + timedelta(minutes=i - first),
                    plate_of(i),
                    checkpoint=checkpoint,
                    hold=hold,
                    override_by="guard.le" if hold and i // hold_every % 2 else None,
                    crop=crop_jpeg(i),
                )
            emitted += len(store.emit_many(events))
    finally:
        store.close()
    return emitted


def fetch(url: str, token: str | None = None, timeout: float = 10) -> tuple[int, str, bytes]:
    """GET ``url`` (with a Bearer ``token``): status, content type and the raw body."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()
