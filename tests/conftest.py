from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from testkit.mosquitto import Mosquitto
from testkit.processes import Central, Proc


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    brokers: list[Mosquitto] = []

    def make(extra_config: str = "") -> Mosquitto:
        workdir = tmp_path / f"mosquitto{len(brokers)}"
        workdir.mkdir()
        broker = Mosquitto(workdir, extra_config)
        broker.start()
        brokers.append(broker)
        return broker

    yield make
    for broker in brokers:
        broker.stop()


@pytest.fixture
def mosquitto(mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    return mosquitto_factory()


@pytest.fixture
def processes() -> Iterator[list[Proc]]:
    """Register cuakhau processes here; they are stopped after the test (logs shown on failure)."""
    started: list[Proc] = []
    yield started
    for p in reversed(started):
        p.stop()


@pytest.fixture
def central(tmp_path: Path, mosquitto: Mosquitto, processes: list[Proc]) -> Central:
    c = Central(tmp_path, mosquitto.port)
    processes.append(c)
    c.start()
    return c
