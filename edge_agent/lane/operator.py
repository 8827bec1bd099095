"""Commands from an operator at the box itself (no central needed): a queue in the box's store.

``cuakhau agent operator --action open ...`` writes a row; the lane takes it on its next poll,
acts if the command fits its state (open: held; reset_fault: fault) and writes the outcome back.
The opening itself is recorded as a ``manual_override`` event like one from central.
"""

from __future__ import annotations

import time
from typing import Literal

from edge_agent.store import EdgeStore

Action = Literal["open", "reset_fault"]


def submit(store: EdgeStore, checkpoint: str, action: Action, by: str, reason: str) -> int:
    return store.lanes.submit_command(checkpoint, action, by, reason)


def wait_outcome(store: EdgeStore, command_id: int, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outcome = store.lanes.command_outcome(command_id)
        if outcome is not None:
            return outcome
        time.sleep(0.1)
    return None
