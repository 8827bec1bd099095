"""A pseudo-terminal pair: the simulator holds the master, the driver opens the slave's path."""

from __future__ import annotations

import contextlib
import os
import select
import tty


class PtyPort:
    """A real serial-like device node (``/dev/pts/N``) backed by a simulator."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation: bytes pass as they are
        # Keeping the slave open means the driver can close and reopen it without a hang-up.
        self.path = os.ttyname(self._slave)
        os.set_blocking(self.master, False)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                select.select([], [self.master], [], 0.5)
                continue
            view = view[n:]

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return b""

    def close(self) -> None:
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
