"""A weighing indicator on a pty: frames at the indicator's rate, a truck-shaped weight profile.

Profile: the weight follows ``target`` -- when it changes, the figure ramps over ``ramp_s``
(a truck driving on or off), then oscillates with decaying amplitude for ``settle_s``, then holds
exactly (rounded to the scale's ``division_kg``). Faults can be injected: garbage bytes, a torn
frame, a wrong checksum, silence (a pulled cable).
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from simulators.pty_port import PtyPort
from simulators.scale import frames

PROTOCOLS = ("xk3190", "xk3190-a12", "toledo", "mtsics", "stgs")


@dataclass
class _Motion:
    start_kg: float
    target_kg: float
    started: float


class ScaleSimulator:
    def __init__(
        self,
        protocol: str,
        *,
        rate_hz: float = 10.0,
        ramp_s: float = 1.5,
        settle_s: float = 1.0,
        division_kg: float = 10.0,
        seed: int = 1,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; one of {', '.join(PROTOCOLS)}")
        self.protocol = protocol
        self.rate_hz = rate_hz
        self.ramp_s = ramp_s
        self.settle_s = settle_s
        self.division_kg = division_kg
        self.port = PtyPort()
        self.path = self.port.path
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._motion = _Motion(0.0, 0.0, time.monotonic() - 100)
        self._faults: list[str] = []
        self._silent_until = 0.0
        self._overload = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames_sent = 0
        self.on_frame: Callable[[bytes, float], None] | None = None

    # -- control -----------------------------------------------------------------------------

    def set_weight(self, kg: float) -> None:
        """Drive towards ``kg`` (a truck driving on, or off with 0)."""
        with self._lock:
            now = time.monotonic()
            current, _ = self._figure(now)
            self._motion = _Motion(current, float(kg), now)
            self._overload = False

    def set_overload(self, on: bool = True) -> None:
        with self._lock:
            self._overload = on

    def inject(self, fault: str, seconds: float = 2.0) -> None:
        """``garbage``, ``torn``, ``bad_checksum`` (next frame) or ``silence`` (for seconds)."""
        if fault not in ("garbage", "torn", "bad_checksum", "silence"):
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            if fault == "silence":
                self._silent_until = time.monotonic() + seconds
            else:
                self._faults.append(fault)

    def settled_at(self) -> float:
        """Monotonic time at which the current profile holds steady."""
        with self._lock:
            return self._motion.started + self.ramp_s + self.settle_s

    def state(self) -> dict[str, object]:
        kg, moving = self._figure(time.monotonic())
        return {
            "protocol": self.protocol,
            "path": self.path,
            "kg": kg,
            "moving": moving,
            "target_kg": self._motion.target_kg,
            "frames_sent": self.frames_sent,
        }

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"sim-scale-{self.protocol}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self.port.close()

    def _figure(self, now: float) -> tuple[float, bool]:
        m = self._motion
        t = now - m.started
        if t >= self.ramp_s + self.settle_s:
            return self._round(m.target_kg), False
        if t < self.ramp_s:
            x = t / self.ramp_s
            value = m.start_kg + (m.target_kg - m.start_kg) * (3 * x * x - 2 * x * x * x)
        else:
            decay = 1 - (t - self.ramp_s) / self.settle_s
            amplitude = max(40.0, abs(m.target_kg - m.start_kg) * 0.01) * decay
            value = m.target_kg + amplitude * math.sin(2 * math.pi * 2.5 * t)
        return self._round(value), True

    def _round(self, kg: float) -> float:
        return round(kg / self.division_kg) * self.division_kg

    def _frame(self, now: float, corrupt: bool) -> bytes:
        kg, moving = self._figure(now)
        over = self._overload
        p = self.protocol
        if p == "xk3190":
            return frames.xk3190(99999 if over else kg, corrupt=corrupt)
        if p == "xk3190-a12":
            return frames.xk3190_a12(None if over else kg, corrupt=corrupt)
        if p == "toledo":
            return frames.toledo(None if over else kg, motion=moving, corrupt=corrupt)
        if p == "stgs":
            line = frames.stgs(None if over else kg, stable=not moving)
            return line.replace(b"kg", b"kq") if corrupt else line
        return frames.mtsics(kg, stable=not moving, status="overload" if over else "ok")

    def _run(self) -> None:
        period = 1.0 / self.rate_hz
        next_at = time.monotonic()
        pending = b""
        while not self._stop.is_set():
            now = time.monotonic()
            if self.protocol == "mtsics":
                pending += self.port.read(0.02)
                while b"\n" in pending:
                    line, _, pending = pending.partition(b"\n")
                    self._answer(line.strip(), now)
                continue
            if now < next_at:
                self._stop.wait(min(period, next_at - now))
                continue
            next_at += period
            if next_at < now:
                next_at = now + period
            self._emit(now)

    def _emit(self, now: float) -> None:
        with self._lock:
            if now < self._silent_until:
                return
            fault = self._faults.pop(0) if self._faults else None
            frame = self._frame(now, corrupt=fault == "bad_checksum")
        if fault == "garbage":
            self.port.write(os.urandom(self._rng.randint(3, 40)))
        if fault == "torn":
            frame = frame[: len(frame) // 2]
        self.port.write(frame)
        self.frames_sent += 1
        if self.on_frame is not None:
            self.on_frame(frame, now)

    def _answer(self, command: bytes, now: float) -> None:
        if command not in (b"SI", b"S"):
            self.port.write(b"ES\r\n")
            return
        with self._lock:
            if now < self._silent_until:
                return
            fault = self._faults.pop(0) if self._faults else None
            frame = self._frame(now, corrupt=False)
        if fault == "garbage":
            self.port.write(os.urandom(self._rng.randint(3, 40)) + b"\r\n")
        if fault == "torn":
            frame = frame[: len(frame) // 2]
        self.port.write(frame)
        self.frames_sent += 1
        if self.on_frame is not None:
            self.on_frame(frame, now)
