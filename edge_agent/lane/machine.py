"""The lane state machine: one per checkpoint, one thread each.

    idle -> vehicle_present -> identifying -> weighing -> deciding -> opening -> passing
         -> closing -> idle                       (plus held and fault)

Every transition is written with its event in one transaction of the box's store. Safety: the
barrier opens only on an ``open`` decision or a recorded manual override; it never closes while
the loop reports a vehicle (the driver refuses); a barrier that does not confirm puts the lane
in ``fault``, which persists across restarts and refuses every command until reset.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum

from edge_agent.anpr.engine import Anpr, jpeg
from edge_agent.anpr.vote import PlateVote, VoteResult
from edge_agent.camera.source import FrameSource
from edge_agent.config import LaneConfig
from edge_agent.devices.barrier.controller import BarrierController
from edge_agent.devices.barrier.driver import BarrierCommError
from edge_agent.devices.scale.reader import ScaleReader
from edge_agent.lane.policy import Decision, Weighing, decide
from edge_agent.store import EdgeStore
from protocol.messages import (
    DeviceFault,
    Event,
    LaneDecision,
    ManualOverride,
    PlateRead,
    Presence,
    WeightMeasured,
    YardEntry,
    YardExit,
)
from protocol.plates import plate_key

log = logging.getLogger("cuakhau.agent.lane")

#: a manual open older than this (central's or the operator's clock vs the box's) is refused
COMMAND_MAX_AGE_S = 60.0
#: An open naming when its truck was held matches the lane's hold to within this.
HELD_AT_TOLERANCE_S = 5.0
#: how often the lane looks for a local operator's command (lane/operator.py)
OPERATOR_POLL_S = 0.2
#: how often a held lane decides again from the cached declaration (an agency may have
#: confirmed the missing step meanwhile: the barrier then opens with no one at the box)
REDECIDE_S = 0.5


class State(Enum):
    IDLE = "idle"
    PRESENT = "vehicle_present"
    IDENTIFYING = "identifying"
    WEIGHING = "weighing"
    DECIDING = "deciding"
    OPENING = "opening"
    PASSING = "passing"
    CLOSING = "closing"
    HELD = "held"
    FAULT = "fault"


@dataclass
class LaneStats:
    vehicles: int = 0
    opened: int = 0
    held: int = 0
    faults: int = 0
    #: loop trigger -> open command, ms, for each automatic opening
    trigger_to_open_ms: list[float] = field(default_factory=list)


class Lane:
    def __init__(
        self,
        settings: LaneConfig,
        store: EdgeStore,
        barrier: BarrierController,
        *,
        camera: FrameSource | None = None,
        anpr: Anpr | None = None,
        scale: ScaleReader | None = None,
    ) -> None:
        self.settings = settings
        #: where the detector looks in each frame (built once: a frame is read every few ms)
        self.region = settings.detector_region
        self.policy = settings.policy
        self.checkpoint = settings.policy.checkpoint
        self.store = store
        self.barrier = barrier
        self.camera = camera
        self.anpr = anpr
        self.scale = scale
        self.stats = LaneStats()
        self._override: tuple[str, str, str | None] | None = None
        self._reset: str | None = None
        self._flags = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._comm_down = False
        self._operator_polled = 0.0
        #: while held: decides again for the truck at the barrier (None: nothing to go on)
        self._redecide: Callable[[], Decision] | None = None
        self._redecided_at = 0.0
        self._reopened: Decision | None = None
        row = store.lanes.state(self.checkpoint)
        self.state = State.FAULT if row and row.state == State.FAULT.value else State.IDLE
        if row and self.state is State.FAULT:
            log.error("lane %s starts in fault: %s", self.checkpoint, row.detail)

    # -- commands ------------------------------------------------------------------------------

    def override(
        self,
        by: str,
        reason: str,
        command_id: str | None,
        issued_at: datetime,
        *,
        plate: str | None = None,
        held_at: datetime | None = None,
    ) -> bool:
        """Open a held lane once (staff or local operator).

        False if the lane is not held, if the command is older than ``COMMAND_MAX_AGE_S``
        (queued while the box was offline, it was meant for a truck long gone), or if it names
        a held truck (``plate``, ``held_at``) that is not the one the lane holds now.
        """
        age = (self._now() - issued_at).total_seconds()
        if abs(age) > COMMAND_MAX_AGE_S:
            log.warning(
                "lane %s: ignoring open %s from %s, %.0f s old",
                self.checkpoint,
                command_id,
                by,
                age,
            )
            return False
        if self.state is not State.HELD:
            return False
        if not self._holds(plate, held_at):
            log.warning(
                "lane %s: refusing open %s from %s: meant for %s held at %s, not the truck"
                " held now",
                self.checkpoint,
                command_id,
                by,
                plate,
                held_at,
            )
            return False
        with self._flags:
            self._override = (by, reason, command_id)
        return True

    def _holds(self, plate: str | None, held_at: datetime | None) -> bool:
        """Whether the truck held now is the one an open names (an open naming none: yes)."""
        row = self.store.lanes.state(self.checkpoint)
        if row is None:
            return plate is None and held_at is None
        if plate is not None and plate_key(plate) != plate_key(row.plate or ""):
            return False
        if held_at is not None:
            try:
                since = datetime.fromisoformat(row.since)
            except ValueError:
                return False
            # held when its decision was made (the decision's time and the state's are the
            # same moment at the box, to within the decision's own duration)
            if abs((since - held_at).total_seconds()) > HELD_AT_TOLERANCE_S:
                return False
        return True

    def reset_fault(self, by: str) -> bool:
        if self.state is not State.FAULT:
            return False
        with self._flags:
            self._reset = by
        return True

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"lane-{self.checkpoint}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:  # a bug must not leave the lane dead; the barrier stays as it is
                log.exception("lane %s step failed in %s", self.checkpoint, self.state.value)
                self._stop.wait(0.5)

    def _now(self) -> datetime:
        return datetime.now(UTC)

    def _enter(
        self,
        state: State,
        events: Sequence[Event] = (),
        plate: str | None = None,
        detail: str = "",
    ) -> None:
        with self.store.transaction() as tx:
            self.store.lanes.set_state(self.checkpoint, state.value, plate, self._now(), detail)
            for event in events:
                tx.emit(event)
        if state is not self.state:
            log.info("lane %s: %s -> %s %s", self.checkpoint, self.state.value, state.value, detail)
        self.state = state

    def _present(self) -> bool | None:
        """The loop detector, or None when the barrier board cannot be read."""
        try:
            present = self.barrier.driver.read_inputs().vehicle_present
        except BarrierCommError as exc:
            if not self._comm_down:
                self._comm_down = True
                self._enter(
                    self.state,
                    [
                        DeviceFault(
                            at=self._now(),
                            checkpoint=self.checkpoint,
                            component="barrier",
                            message=f"inputs unreadable: {exc}",
                        )
                    ],
                )
            return None
        self._comm_down = False
        return present

    def _wait_clear(self) -> bool:
        """Until the loop reads clear ``clear_reads`` times in a row (False if stopped)."""
        clear = 0
        while not self._stop.is_set():
            present = self._present()
            clear = clear + 1 if present is False else 0
            if clear >= self.settings.clear_reads:
                return True
            if self.state is State.HELD and (self._take_override() or self._decided_again()):
                return False
            self._stop.wait(self.settings.poll_s)
        return False

    def _decided_again(self) -> bool:
        """While held: True when the policy now opens for the same truck (its declaration
        changed: a step confirmed, a re-declaration accepted)."""
        if self._redecide is None or time.monotonic() - self._redecided_at < REDECIDE_S:
            return False
        self._redecided_at = time.monotonic()
        decision = self._redecide()
        if decision.open:
            self._reopened = decision
            return True
        return False

    def _poll_operator(self) -> None:
        """Take the next local operator command for this lane, if any (see lane/operator.py).

        Looks at most every ``OPERATOR_POLL_S``: it is called from the lane's fast loops."""
        if time.monotonic() - self._operator_polled < OPERATOR_POLL_S:
            return
        self._operator_polled = time.monotonic()
        command = self.store.lanes.next_command(self.checkpoint)
        if command is None:
            return
        age = (self._now() - command.at).total_seconds()
        if age > COMMAND_MAX_AGE_S:
            outcome = f"expired: given {age:.0f} s ago"
        elif command.action == "open" and self.state is State.HELD:
            opened = self.override(command.by, command.reason, f"local-{command.id}", command.at)
            outcome = "opening" if opened else "refused"
        elif command.action == "reset_fault" and self.state is State.FAULT:
            outcome = "reset" if self.reset_fault(command.by) else "refused"
        else:
            outcome = f"ignored: the lane is {self.state.value}"
        self.store.lanes.command_taken(command.id, outcome)

    def _take_override(self) -> bool:
        self._poll_operator()
        with self._flags:
            return self._override is not None

    # -- one pass of the machine ---------------------------------------------------------------

    def _step(self) -> None:
        if self.state is State.FAULT:
            self._poll_operator()
            with self._flags:
                by, self._reset = self._reset, None
            if by:
                self.barrier.driver.reset()
                self._enter(State.IDLE, detail=f"fault reset by {by}")
            else:
                self._stop.wait(0.2)
            return
        self._poll_operator()  # answers (ignores) commands given to an idle lane
        if self._present() is not True:
            self._stop.wait(self.settings.poll_s)
            return
        self._vehicle(time.monotonic())

    def _vehicle(self, trigger: float) -> None:
        now = self._now
        cp = self.checkpoint
        self.stats.vehicles += 1
        self._enter(State.PRESENT, [Presence(at=now(), checkpoint=cp, present=True)])
        self._enter(State.IDENTIFYING)
        lead = self._identify(trigger)
        plate = lead.display if lead else None
        crop = None
        events: list[Event] = []
        if lead is not None:
            if lead.best.crop is not None:
                crop = jpeg(lead.best.crop)
            events.append(
                PlateRead(
                    at=now(),
                    checkpoint=cp,
                    plate=lead.display,
                    country="CN" if lead.country == "CN" else "VN",
                    confidence=round(lead.confidence, 4),
                    crop_jpeg=crop,
                )
            )
        weighing = None
        if self.scale is not None:
            self._enter(State.WEIGHING, events, plate)
            events = []
            weighing = self._weigh()
            if weighing.kg is not None:
                events.append(
                    WeightMeasured(
                        at=now(), checkpoint=cp, kg=weighing.kg, stable=weighing.stable, plate=plate
                    )
                )
        self._enter(State.DECIDING, events, plate)

        def decide_now() -> Decision:
            return decide(
                self.policy,
                lead.text if lead else None,
                self.store.declarations.for_plate(lead.text) if lead else [],
                weighing,
                self._yard_count(),
            )

        decision = decide_now()
        decided = LaneDecision(
            at=now(),
            checkpoint=cp,
            plate=plate,
            decision="open" if decision.open else "hold",
            reasons=[str(r) for r in decision.reasons],
            declaration=decision.declaration.number if decision.declaration else None,
            weight_kg=weighing.kg if weighing else None,
            crop_jpeg=crop,
        )
        if decision.open:
            self._enter(State.OPENING, [decided], plate)
            self.stats.trigger_to_open_ms.append((time.monotonic() - trigger) * 1000)
            self.stats.opened += 1
            self._open_and_pass(plate)
        else:
            self.stats.held += 1
            self._enter(State.HELD, [decided], plate, "; ".join(decision.codes))
            self._redecide = decide_now if lead is not None else None
            try:
                self._hold(plate, decision, crop, weighing)
            finally:
                self._redecide, self._reopened = None, None

    def _identify(self, trigger: float) -> VoteResult | None:
        if self.camera is None or self.anpr is None:
            return None
        s = self.settings.identify
        vote = PlateVote(agree=s.agree, min_confidence=s.min_confidence)
        extra_until: float | None = None

        def known(text: str) -> bool:
            return bool(self.store.declarations.for_plate(text))

        deadline = trigger + s.timeout_s
        latest = self.camera.latest()
        after = (
            latest.index - 1
            if latest and latest.at >= trigger - 0.15
            else (latest.index if latest else 0)
        )
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            frame = self.camera.next_frame(after, left)
            if frame is None:
                break
            after = frame.index
            results = self.anpr.read_frame(frame.image, keep_crops=True, region=self.region)
            if results:
                vote.add(max(results, key=lambda r: r.detector_score or 0.0))
            lead = vote.leader(known)
            if lead is None:
                continue
            if known(lead.text) and (vote.decided or lead.confidence >= s.fast_confidence):
                break
            if vote.decided:
                extra_until = extra_until or time.monotonic() + s.unknown_extra_s
                if time.monotonic() >= extra_until:
                    break
        return vote.leader(known)

    def _weigh(self) -> Weighing:
        assert self.scale is not None
        reading = self.scale.wait_for(
            lambda r: r.stable and r.kg is not None, self.settings.weighing_timeout_s
        )
        if reading is not None:
            return Weighing(reading.kg, True)
        latest = self.scale.latest
        return Weighing(latest.kg if latest else None, False)

    def _yard_count(self) -> int | None:
        if not self.policy.yard:
            return None
        return self.store.lanes.yard_count(self.policy.yard)

    def _open_and_pass(self, plate: str | None) -> None:
        result = self.barrier.open(plate)
        if not result.ok:
            self.stats.faults += 1
            self._enter(State.FAULT, plate=plate, detail=f"open {result.outcome}: {result.detail}")
            return
        self._enter(State.PASSING, plate=plate)
        if not self._wait_clear():
            return
        with self.store.transaction():  # the yard's occupancy moves with its event
            events: list[Event] = [
                Presence(at=self._now(), checkpoint=self.checkpoint, present=False)
            ]
            events += self._yard_events(plate)
            self._enter(State.CLOSING, events, plate)
        self._close(plate)

    def _yard_events(self, plate: str | None) -> list[Event]:
        yard = self.policy.yard
        if not yard or not plate:
            return []
        key = plate_key(plate)
        now = self._now()
        if self.policy.kind == "yard-in":
            self.store.lanes.yard_enter(yard, key, now)
            return [YardEntry(at=now, checkpoint=self.checkpoint, yard=yard, plate=plate)]
        if self.policy.kind == "yard-out":
            self.store.lanes.yard_leave(yard, key)
            return [YardExit(at=now, checkpoint=self.checkpoint, yard=yard, plate=plate)]
        return []

    def _close(self, plate: str | None) -> None:
        while not self._stop.is_set():
            result = self.barrier.close(plate)
            if result.ok:
                self._enter(State.IDLE)
                return
            if result.outcome in ("refused_presence", "reversed_presence"):
                # someone is under the arm: it stays up until the loop is clear again
                self._enter(State.PASSING, plate=plate, detail=result.outcome)
                if not self._wait_clear():
                    return
                continue
            self.stats.faults += 1
            self._enter(State.FAULT, plate=plate, detail=f"close {result.outcome}: {result.detail}")
            return

    def _hold(
        self,
        plate: str | None,
        decision: Decision,
        crop: bytes | None = None,
        weighing: Weighing | None = None,
    ) -> None:
        while not self._stop.is_set():
            reopened, self._reopened = self._reopened, None
            if reopened is not None:
                decided = LaneDecision(
                    at=self._now(),
                    checkpoint=self.checkpoint,
                    plate=plate,
                    decision="open",
                    declaration=reopened.declaration.number if reopened.declaration else None,
                    weight_kg=weighing.kg if weighing else None,
                    crop_jpeg=crop,
                )
                self.stats.opened += 1
                self._enter(State.OPENING, [decided], plate, "decided again: now in order")
                self._open_and_pass(plate)
                return
            with self._flags:
                override, self._override = self._override, None
            if override is not None:
                by, reason, command_id = override
                self._enter(
                    State.OPENING,
                    [
                        ManualOverride(
                            at=self._now(),
                            checkpoint=self.checkpoint,
                            by=by,
                            reason=reason,
                            command_id=command_id,
                            plate=plate,
                        )
                    ],
                    plate,
                    f"manual override by {by}",
                )
                self._open_and_pass(plate)
                return
            if self._wait_clear():  # the truck backed out: the lane is free again
                self._enter(
                    State.IDLE,
                    [Presence(at=self._now(), checkpoint=self.checkpoint, present=False)],
                )
                return
