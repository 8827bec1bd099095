"""Reading an indicator from a serial port (any pyserial URL) on a thread of its own.

The reader never raises on bad bytes (the parser counts them) and survives the port going away:
it reports ``connected = False``, retries with backoff, and resumes when the port is back.
Polled protocols (MT-SICS) get their request written every ``poll_interval_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import serial

from edge_agent.devices.readings import WeightReading
from edge_agent.devices.scale.frame_parser import FrameParser
from edge_agent.devices.serial_port import SerialSettings, open_port

log = logging.getLogger("cuakhau.agent.scale")


class ScaleReader:
    def __init__(
        self,
        settings: SerialSettings,
        parser: FrameParser,
        *,
        on_reading: Callable[[WeightReading], None] | None = None,
        poll_interval_s: float = 0.1,
        reconnect_max_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self.parser = parser
        self.on_reading = on_reading
        self.poll_interval_s = poll_interval_s
        self.reconnect_max_s = reconnect_max_s
        self.connected = False
        self.errors = 0
        self._latest: WeightReading | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="scale-reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    @property
    def latest(self) -> WeightReading | None:
        with self._cond:
            return self._latest

    def wait_for(
        self, predicate: Callable[[WeightReading], bool], timeout: float
    ) -> WeightReading | None:
        """The first reading from now on that satisfies ``predicate``, or None on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = self._latest
            while True:
                if self._latest is not seen and self._latest is not None:
                    seen = self._latest
                    if predicate(seen):
                        return seen
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                port = open_port(self.settings)
            except (serial.SerialException, OSError, ValueError) as exc:
                self._lost(f"cannot open {self.settings.url}: {exc}")
                self._stop.wait(backoff)
                backoff = min(self.reconnect_max_s, backoff * 2)
                continue
            backoff = 0.1
            try:
                self._pump(port)
            except (serial.SerialException, OSError) as exc:
                self._lost(f"{self.settings.url}: {exc}")
            finally:
                port.close()

    def _lost(self, why: str) -> None:
        self.errors += 1
        if self.connected or self.errors == 1:
            log.warning("scale port lost: %s", why)
        self.connected = False

    def _pump(self, port: serial.Serial) -> None:
        self.connected = True
        request = self.parser.request()
        next_poll = 0.0
        while not self._stop.is_set():
            if request is not None and time.monotonic() >= next_poll:
                port.write(request)
                next_poll = time.monotonic() + self.poll_interval_s
            data = port.read(max(1, port.in_waiting))
            if not data:
                continue
            for reading in self.parser.feed(data):
                with self._cond:
                    self._latest = reading
                    self._cond.notify_all()
                if self.on_reading is not None:
                    self.on_reading(reading)
