"""A barrier with a Modbus RTU relay board, on a pty: the slave side, with arm physics.

Relays (coils): 0 open push-button, 1 close push-button. Discrete inputs: 0 loop detector
(vehicle present), 1 open limit, 2 closed limit. Function 05 takes on/off and the flash pulse
(address ``0x0200 + relay``, value in 100 ms). The arm travels for ``travel_s``; fault modes:
``stuck`` (the motor never moves) and ``no_limit`` (it moves, the open limit never closes).

Framing and CRC come from pymodbus' ``FramerRTU``; the function handling is here because the
flash command is not something pymodbus' datastore server understands.
"""

from __future__ import annotations

import struct
import threading
import time
from dataclasses import dataclass
from typing import Literal

from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU

from simulators.pty_port import PtyPort

Fault = Literal["none", "stuck", "no_limit", "silent"]


@dataclass(frozen=True)
class Received:
    """One command the board received, with the loop state at that moment."""

    at: float
    function: int
    relay: int
    value: int
    vehicle_present: bool

    @property
    def is_close(self) -> bool:
        return self.function == 5 and self.relay == 1 and self.value != 0


class BarrierSimulator:
    def __init__(self, *, unit: int = 1, travel_s: float = 1.0) -> None:
        self.unit = unit
        self.travel_s = travel_s
        self.port = PtyPort()
        self.path = self.port.path
        self.fault: Fault = "none"
        self.vehicle_present = False
        self.received: list[Received] = []
        self.bad_frames = 0
        self._position = 0.0  # 0 closed .. 1 open
        self._direction = 0
        self._relay_until = [0.0] * 8
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self._framer = FramerRTU(DecodePDU(True))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- scenario control ------------------------------------------------------------------------

    def set_vehicle(self, present: bool) -> None:
        with self._lock:
            self.vehicle_present = present

    def set_fault(self, fault: Fault) -> None:
        with self._lock:
            self.fault = fault

    def state(self) -> dict[str, object]:
        with self._lock:
            self._advance(time.monotonic())
            return {
                "path": self.path,
                "position": round(self._position, 3),
                "open_limit": self._open_limit(),
                "closed_limit": self._position <= 0.0,
                "vehicle_present": self.vehicle_present,
                "fault": self.fault,
                "commands": len(self.received),
            }

    def closes_while_occupied(self) -> list[Received]:
        return [r for r in self.received if r.is_close and r.vehicle_present]

    # -- physics -----------------------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        dt = now - self._last
        self._last = now
        if self.fault == "stuck" or self._direction == 0:
            return
        self._position += self._direction * dt / self.travel_s
        if self._position >= 1.0:
            self._position, self._direction = 1.0, 0
        elif self._position <= 0.0:
            self._position, self._direction = 0.0, 0

    def _open_limit(self) -> bool:
        return self._position >= 1.0 and self.fault != "no_limit"

    def _press(self, relay: int) -> None:
        if relay == 0:
            self._direction = 1
        elif relay == 1:
            self._direction = -1

    # -- the Modbus slave ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sim-barrier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self.port.close()

    def _run(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            chunk = self.port.read(0.02)
            now = time.monotonic()
            with self._lock:
                self._advance(now)
            if not chunk:
                if buffer:  # a silent gap ends a frame in RTU: drop what did not decode
                    self.bad_frames += 1
                    buffer = b""
                continue
            buffer += chunk
            while len(buffer) >= 8:
                used, dev_id, _, pdu = self._framer.decode(buffer)
                if used == 0:
                    break
                if not pdu:
                    self.bad_frames += 1
                    buffer = b""
                    break
                buffer = buffer[used:]
                if dev_id == self.unit:
                    self._serve(pdu, now)

    def _serve(self, pdu: bytes, now: float) -> None:
        with self._lock:
            if self.fault == "silent":
                return
            function = pdu[0]
            if function in (1, 2) and len(pdu) == 5:
                address, count = struct.unpack(">HH", pdu[1:5])
                if count < 1 or count > 2000:
                    self._reply(bytes([function | 0x80, 3]))
                    return
                if function == 1:
                    bits = [now < until for until in self._relay_until]
                else:
                    bits = [self.vehicle_present, self._open_limit(), self._position <= 0.0]
                bits = (bits + [False] * (address + count))[address : address + count]
                packed = bytearray((count + 7) // 8)
                for i, bit in enumerate(bits):
                    if bit:
                        packed[i // 8] |= 1 << (i % 8)
                self._reply(bytes([function, len(packed)]) + bytes(packed))
                return
            if function == 5 and len(pdu) == 5:
                address, value = struct.unpack(">HH", pdu[1:5])
                relay = address - 0x0200 if address >= 0x0200 else address
                if relay > 7 or (address < 0x0200 and value not in (0xFF00, 0x0000)):
                    self._reply(bytes([0x85, 3 if relay <= 7 else 2]))
                    return
                self.received.append(Received(now, 5, relay, value, self.vehicle_present))
                if address >= 0x0200:
                    self._relay_until[relay] = now + value / 10
                    self._press(relay)
                elif value == 0xFF00:
                    self._relay_until[relay] = float("inf")
                    self._press(relay)
                else:
                    self._relay_until[relay] = 0.0
                self._reply(pdu)  # function 05 answers with an echo
                return
            self._reply(bytes([function | 0x80, 1]))  # illegal function

    def _reply(self, pdu: bytes) -> None:
        self.port.write(self._framer.encode(pdu, self.unit, 0))
