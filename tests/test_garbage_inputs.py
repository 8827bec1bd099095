"""Garbage on any topic is refused, counted, logged once per kind, and never stops ingest."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol import topics
from testkit import wait_for
from testkit.mosquitto import Mosquitto
from testkit.outbox import fill_outbox
from testkit.processes import Agent, Central, Proc, agent_config


def garbage_payloads(device: str) -> list[bytes]:
    rng = random.Random(1)
    now = datetime.now(UTC)
    event = {"kind": "presence", "seq": 1, "id": "x", "at": now, "present": True}
    return [
        b"",
        bytes(rng.getrandbits(8) for _ in range(200)),
        os.urandom(64),
        b"\xc1" * 10,  # never valid msgpack
        msgspec.msgpack.encode({"v": 2, "device": device, "events": [event]}),  # wrong version
        msgspec.msgpack.encode({"v": 1, "device": device, "events": "lots"}),  # wrong type
        msgspec.msgpack.encode({"v": 1, "device": 7, "upto": "x", "gate": None}),
        # an event with no seq or id to place it by (one with a seq is kept aside: see
        # test_sync_holes.py)
        msgspec.msgpack.encode({"v": 1, "device": device, "events": [{"kind": "bomb", "at": now}]}),
        msgspec.msgpack.encode([1, 2, 3]),
        msgspec.msgpack.encode({"v": 1, "device": device, "upto": 10**9}),  # ack beyond
    ]


def spray(port: int, topic_names: list[str], payloads: list[bytes]) -> None:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="garbage-sprayer", protocol=mqtt.MQTTv5
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for topic in topic_names:
            for payload in payloads:
                client.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


def test_garbage_on_every_topic_is_rejected_counted_and_ingest_goes_on(
    tmp_path: Path, mosquitto: Mosquitto, central: Central, processes: list[Proc]
) -> None:
    agent = Agent(tmp_path, agent_config(tmp_path, "hn-g1", mosquitto.port))
    processes.append(agent)
    agent.start()
    emitted = fill_outbox(tmp_path / "hn-g1.db", 100)
    wait_for(lambda: central.acked("hn-g1") == 100, 20, "the first events")

    payloads = garbage_payloads("hn-g1")
    up = [
        topics.events("hn-g1"),
        topics.state("hn-g1"),
        topics.sync("hn-g1"),
        "bg/v1/dev/not a device/events",
    ]
    down = [
        topics.ack("hn-g1"),
        topics.command("hn-g1"),
        topics.device_declarations("hn-g1"),
        topics.gate_declarations("CKHN"),
    ]
    # A batch claiming another box's name on this box's topic: refused (topic ownership).
    impostor = msgspec.msgpack.encode({"v": 1, "device": "hn-other", "events": []})
    spray(mosquitto.port, [*up, *down], [*payloads, impostor])

    def central_rejected() -> int:
        return int(central.get("/api/stats")["rejected_total"])

    # events: 11 payloads bad (the empty one too); state ignores only the empty (cleared) one.
    wait_for(lambda: central_rejected() >= 11 + 10 + 11, 20, "central to count the garbage")
    stats = central.get("/api/stats")
    assert stats["rejected"]["events:ownership"] >= 1
    assert any(k.startswith("events:decode") for k in stats["rejected"])
    assert stats["mqtt_connected"] is True

    # Ingest goes on: new events from the box still arrive exactly once.
    emitted += fill_outbox(tmp_path / "hn-g1.db", 100)
    wait_for(lambda: central.acked("hn-g1") == 200, 20, "events sent after the garbage")
    assert central.stored_events("hn-g1") == emitted

    assert agent.alive() and central.alive()
    log = agent.output()
    assert log.count("rejected where=ack what=decode") == 1, "each kind is logged once"
    assert "rejected where=ack what=beyond" in log
    assert "rejected where=declarations what=decode" in log
    assert "rejected where=command what=decode" in log
    assert "Traceback" not in log and "Traceback" not in central.output()
