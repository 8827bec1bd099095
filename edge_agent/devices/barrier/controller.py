"""A barrier at a checkpoint: every command and its outcome becomes an outbox event."""

from __future__ import annotations

from datetime import UTC, datetime

from edge_agent.devices.barrier.driver import BarrierDriver, BarrierResult
from edge_agent.store import EdgeStore
from protocol.messages import BarrierActuated, DeviceFault

#: Outcomes that mean the barrier itself (or the line to it) is in trouble.
FAULT_OUTCOMES = ("fault", "comm_lost")


class BarrierController:
    def __init__(
        self, driver: BarrierDriver, store: EdgeStore, checkpoint: str, component: str = "barrier"
    ) -> None:
        self.driver = driver
        self.store = store
        self.checkpoint = checkpoint
        self.component = component

    def open(self, plate: str | None = None) -> BarrierResult:
        return self._record(self.driver.open(), plate)

    def close(self, plate: str | None = None) -> BarrierResult:
        return self._record(self.driver.close(), plate)

    def _record(self, result: BarrierResult, plate: str | None) -> BarrierResult:
        now = datetime.now(UTC)
        with self.store.transaction() as tx:
            if result.outcome not in ("refused_fault", "refused_presence"):
                tx.emit(
                    BarrierActuated(
                        at=now,
                        checkpoint=self.checkpoint,
                        action=result.action,
                        confirmed=result.ok,
                        plate=plate,
                    )
                )
            if result.outcome in FAULT_OUTCOMES:
                tx.emit(
                    DeviceFault(
                        at=now,
                        checkpoint=self.checkpoint,
                        component=self.component,
                        message=f"{result.action}: {result.outcome}: {result.detail}",
                    )
                )
        return result
