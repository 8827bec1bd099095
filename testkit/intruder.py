"""A client on the broker that is not a gate box: publishes what it likes under any name."""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def publish(
    port: int, messages: list[tuple[str, bytes]], client_id: str = "attacker-laptop"
) -> None:
    """Publish ``(topic, payload)`` pairs at QoS 1 to the broker on 127.0.0.1:``port``."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()
