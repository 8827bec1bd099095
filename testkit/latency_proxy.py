"""A TCP forwarder that can hold every byte for a while: a slow link between a box and the
broker, for the fault harness (``testkit.chaos``) where the kernel offers no ``netem``."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque


class LatencyProxy:
    """Listens on ``host:port`` and forwards each connection to ``target``; while
    ``delay_s`` is above zero every chunk waits that long in each direction."""

    def __init__(self, host: str, target: tuple[str, int]) -> None:
        self.target = target
        self.delay_s = 0.0
        self._server = socket.create_server((host, 0))
        self.host = host
        self.port = int(self._server.getsockname()[1])
        self._stop = threading.Event()
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self._accept, name="latency-proxy", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._server.close()
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        waiting: deque[tuple[float, bytes]] = deque()
        ready = threading.Condition()
        done = threading.Event()

        def send() -> None:
            while True:
                with ready:
                    while not waiting and not done.is_set():
                        ready.wait(0.1)
                    if not waiting and done.is_set():
                        break
                    due, chunk = waiting[0]
                    left = due - time.monotonic()
                    if left > 0:
                        ready.wait(min(left, 0.05))
                        continue
                    waiting.popleft()
                try:
                    sink.sendall(chunk)
                except OSError:
                    break
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        while True:
            try:
                chunk = source.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            with ready:
                waiting.append((time.monotonic() + self.delay_s, chunk))
                ready.notify()
        done.set()
        sender.join(timeout=10)
        for conn in (source, sink):
            with contextlib.suppress(OSError):
                conn.close()
