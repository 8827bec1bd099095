"""What the tests and the benches share: real parts to run against, and small helpers.

- ``testkit.mosquitto``: a real Mosquitto broker on a free port;
- ``testkit.processes``: central and gate-box processes (``cuakhau ...``) with their logs, a
  box's config file, ``python -m`` as a user runs it;
- ``testkit.outbox``: a box's outbox filled as the lane would fill it, offline;
- ``testkit.declarations``: a customs declaration as central's API takes it;
- ``testkit.plates``: the synthetic held-out plate set the ANPR benches read.

The three helpers below are what nearly every one of them needs. The package is installed with
the project (``pip install -e .``), so tests and ``python bench/x.py`` import it as they are.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The repository's root (where ``pyproject.toml`` is).
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """The first truthy value of ``predicate()``, polled every ``interval`` s; AssertionError
    naming ``what`` (and the last value) after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
