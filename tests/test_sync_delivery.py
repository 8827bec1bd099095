"""Exactly-once delivery from a gate box's outbox to central, against a real Mosquitto."""

from __future__ import annotations

import signal
from pathlib import Path

from edge_agent.store import EdgeStore
from testkit import wait_for
from testkit.mosquitto import Mosquitto
from testkit.outbox import fill_outbox
from testkit.processes import Agent, Central, Proc, agent_config


def assert_exactly(central: Central, device: str, expected: list[tuple[int, str]]) -> None:
    stored = central.stored_events(device)
    assert len(stored) == len(expected), f"central holds {len(stored)}, box emitted {len(expected)}"
    assert stored == sorted(expected), "central's (seq, id) pairs differ from what the box emitted"
    assert central.acked(device) == max(s for s, _ in expected)


def drained(central: Central, device: str, n: int) -> bool:
    return central.acked(device) >= n


def test_events_made_while_the_broker_is_down_arrive_exactly_once(
    tmp_path: Path, mosquitto: Mosquitto, central: Central, processes: list[Proc]
) -> None:
    mosquitto.stop()
    config = agent_config(tmp_path, "hn-b1", mosquitto.port)
    agent = Agent(tmp_path, config)
    processes.append(agent)
    agent.start()
    emitted = fill_outbox(tmp_path / "hn-b1.db", 10_000)
    assert central.stored_events("hn-b1") == []
    mosquitto.start()
    wait_for(lambda: drained(central, "hn-b1", 10_000), 90, "central to hold all 10,000 events")
    assert_exactly(central, "hn-b1", emitted)
    # central's last ack reaches the box a moment after central's commit
    status = EdgeStore(tmp_path / "hn-b1.db")
    wait_for(lambda: status.acked_seq() == 10_000, 30, "the box to record central's last ack")
    assert status.pending_count() == 0


def test_agent_killed_mid_drain_loses_and_duplicates_nothing_and_seq_continues(
    tmp_path: Path, mosquitto: Mosquitto, central: Central, processes: list[Proc]
) -> None:
    # Small batches so the drain takes long enough to be interrupted.
    config = agent_config(tmp_path, "hn-b2", mosquitto.port, batch=20, window=100)
    emitted = fill_outbox(tmp_path / "hn-b2.db", 10_000)
    agent = Agent(tmp_path, config)
    processes.append(agent)
    agent.start()
    wait_for(lambda: central.acked("hn-b2") > 500, 60, "the drain to start")
    agent.kill()
    at_kill = central.acked("hn-b2")
    assert at_kill < 10_000, "drain finished before the kill; the test proves nothing"
    agent.start()
    wait_for(lambda: drained(central, "hn-b2", 10_000), 120, "the drain to finish after restart")
    emitted += fill_outbox(tmp_path / "hn-b2.db", 10)
    assert emitted[-1][0] == 10_010, "seq must continue after a crash, never restart or repeat"
    wait_for(lambda: drained(central, "hn-b2", 10_010), 30, "the new events")
    assert_exactly(central, "hn-b2", emitted)


def test_central_killed_mid_drain_loses_and_duplicates_nothing(
    tmp_path: Path, mosquitto: Mosquitto, central: Central, processes: list[Proc]
) -> None:
    config = agent_config(tmp_path, "hn-b3", mosquitto.port, batch=20, window=100)
    emitted = fill_outbox(tmp_path / "hn-b3.db", 10_000)
    agent = Agent(tmp_path, config)
    processes.append(agent)
    agent.start()
    wait_for(lambda: central.acked("hn-b3") > 500, 60, "the drain to start")
    central.kill()
    assert central.acked("hn-b3") < 10_000, "drain finished before the kill"
    central.start()
    wait_for(lambda: drained(central, "hn-b3", 10_000), 120, "the drain to finish")
    assert_exactly(central, "hn-b3", emitted)


def test_broker_dropping_queued_messages_while_central_is_paused_loses_nothing(
    tmp_path: Path, mosquitto_factory: object, processes: list[Proc]
) -> None:
    broker = mosquitto_factory("max_queued_messages 10\nsys_interval 1\n")  # type: ignore[operator]
    central = Central(tmp_path, broker.port)
    processes.append(central)
    central.start()
    config = agent_config(tmp_path, "hn-b4", broker.port, batch=50, window=1000, ack_timeout=2.0)
    agent = Agent(tmp_path, config)
    processes.append(agent)
    agent.start()
    emitted = fill_outbox(tmp_path / "hn-b4.db", 200)
    wait_for(lambda: drained(central, "hn-b4", 200), 30, "the first events")
    central.signal(signal.SIGSTOP)  # paused: its broker session queues at most 10 messages
    emitted += fill_outbox(tmp_path / "hn-b4.db", 5_000)
    import time

    time.sleep(3)  # the box publishes its whole window; the broker drops what exceeds 10
    assert central.acked("hn-b4") == 200
    dropped = broker.sys_counter(
        "$SYS/broker/publish/messages/dropped", timeout=20, until=lambda v: v > 0
    )
    assert dropped > 0, "the broker dropped nothing; the test did not exercise the trap"
    central.signal(signal.SIGCONT)
    wait_for(lambda: drained(central, "hn-b4", 5_200), 90, "every event after central resumes")
    assert_exactly(central, "hn-b4", emitted)
