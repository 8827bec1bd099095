"""MQTT topic names, built in one place. Prefix ``bg/v1``."""

from __future__ import annotations

import re

PREFIX = "bg/v1"

_LEVEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _level(value: str, what: str) -> str:
    if not _LEVEL.match(value):
        raise ValueError(f"invalid {what} {value!r}: use letters, digits, '_', '.', '-' (max 64)")
    return value


def events(device: str) -> str:
    return f"{PREFIX}/dev/{_level(device, 'device id')}/events"


def state(device: str) -> str:
    return f"{PREFIX}/dev/{_level(device, 'device id')}/state"


def sync(device: str) -> str:
    return f"{PREFIX}/dev/{_level(device, 'device id')}/sync"


def ack(device: str) -> str:
    return f"{PREFIX}/dev/{_level(device, 'device id')}/ack"


def command(device: str) -> str:
    return f"{PREFIX}/dev/{_level(device, 'device id')}/cmd"


def device_declarations(device: str) -> str:
    """Replies to one box's SyncRequest."""
    return f"{PREFIX}/dev/{_level(device, 'device id')}/declarations"


def gate_declarations(gate: str) -> str:
    """Live declaration changes for every box at a gate."""
    return f"{PREFIX}/gate/{_level(gate, 'gate code')}/declarations"


#: Subscriptions central uses (one ``+`` for the device id).
CENTRAL_SUBSCRIPTIONS = (
    f"{PREFIX}/dev/+/events",
    f"{PREFIX}/dev/+/state",
    f"{PREFIX}/dev/+/sync",
)


def parse_device_topic(topic: str) -> tuple[str, str]:
    """Split ``bg/v1/dev/{device}/{leaf}`` into (device, leaf); ValueError when it is not one."""
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != PREFIX or parts[2] != "dev":
        raise ValueError(f"not a device topic: {topic!r}")
    return _level(parts[3], "device id"), parts[4]
