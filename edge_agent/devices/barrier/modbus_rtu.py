"""Barriers driven by a Modbus RTU relay board over RS-485 (any pyserial URL)."""

from __future__ import annotations

import threading
import time
from typing import Literal

import serial

from edge_agent.config import BarrierConfig
from edge_agent.devices.barrier import modbus_frames as mf
from edge_agent.devices.barrier.driver import BarrierCommError, BarrierDriver
from edge_agent.devices.readings import BarrierInputs
from edge_agent.devices.serial_port import SerialSettings, open_port


class ModbusRelayBarrier(BarrierDriver):
    def __init__(self, settings: BarrierConfig) -> None:
        if not settings.url:
            raise ValueError("a Modbus barrier needs the url of its serial port")
        super().__init__(confirm_timeout_s=settings.confirm_timeout_s)
        self.settings = settings
        self.line = SerialSettings(url=settings.url, baudrate=settings.baudrate)
        self.errors = 0
        self._io = threading.Lock()
        self._port: serial.Serial | None = None

    def close_port(self) -> None:
        """Close the serial port (a later command opens it again)."""
        with self._io:
            if self._port is not None:
                self._port.close()
                self._port = None

    def _exchange(self, request: bytes, response_len: int) -> bytes:
        s = self.settings
        last = "no answer"
        with self._io:
            for _ in range(1 + s.retries):
                try:
                    if self._port is None:
                        self._port = open_port(self.line, s.response_timeout_s)
                    port = self._port
                    port.reset_input_buffer()
                    port.write(request)
                    answer = self._read(port, response_len)
                except (serial.SerialException, OSError) as exc:
                    last = f"{s.url}: {exc}"
                    if self._port is not None:
                        self._port.close()
                    self._port = None
                    self.errors += 1
                    continue
                if len(answer) == response_len or (len(answer) == 5 and answer[1] & 0x80):
                    return answer
                last = f"short answer {answer.hex(' ') or '(none)'}"
                self.errors += 1
        raise BarrierCommError(f"barrier unit {s.unit}: {last}")

    def _read(self, port: serial.Serial, n: int) -> bytes:
        deadline = time.monotonic() + self.settings.response_timeout_s
        data = b""
        while len(data) < n and time.monotonic() < deadline:
            chunk = port.read(n - len(data))
            data += chunk
            if len(data) >= 5 and data[1] & 0x80:  # exception response is 5 bytes
                return data[:5]
        return data

    def read_inputs(self) -> BarrierInputs:
        s = self.settings
        request = mf.read_bits(s.unit, 0x02, 0, s.inputs)
        answer = self._exchange(request, mf.bits_response_length(s.inputs))
        try:
            bits = mf.parse_bits_response(answer, s.unit, 0x02, s.inputs)
        except mf.ModbusError as exc:
            self.errors += 1
            raise BarrierCommError(str(exc)) from None
        return BarrierInputs(
            vehicle_present=bits[s.loop_input],
            open_limit=bits[s.open_limit_input],
            closed_limit=bits[s.closed_limit_input],
        )

    def read_relays(self) -> list[bool]:
        s = self.settings
        answer = self._exchange(mf.read_bits(s.unit, 0x01, 0, 8), mf.bits_response_length(8))
        try:
            return mf.parse_bits_response(answer, s.unit, 0x01, 8)
        except mf.ModbusError as exc:
            raise BarrierCommError(str(exc)) from None

    def _pulse(self, which: Literal["open", "close"]) -> None:
        s = self.settings
        relay = s.open_relay if which == "open" else s.close_relay
        request = mf.flash_pulse(s.unit, relay, max(1, round(s.pulse_s * 10)))
        answer = self._exchange(request, len(request))
        try:
            mf.check_echo(request, answer)
        except mf.ModbusError as exc:
            raise BarrierCommError(str(exc)) from None
