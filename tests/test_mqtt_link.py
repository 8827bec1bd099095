"""The MQTT link reads what the broker says: refused CONNACKs and PUBACK reason codes."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from protocol.mqtt_client import NO_MATCHING_SUBSCRIBERS, MqttLink
from protocol.mqtt_settings import MqttSettings
from testkit import wait_for
from testkit.mosquitto import Mosquitto

NOT_AUTHORISED = 0x87


@pytest.fixture
def secured_broker(tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    passwords = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwords), "hn-b1", "right-password"], check=True
    )
    acl = tmp_path / "acl"
    acl.write_text("user hn-b1\ntopic write bg/v1/dev/hn-b1/#\n", encoding="utf-8")
    return mosquitto_factory(f"allow_anonymous false\npassword_file {passwords}\nacl_file {acl}\n")


def link(port: int, password_file: Path) -> MqttLink:
    settings = MqttSettings(port=port, username="hn-b1", password_file=str(password_file))
    return MqttLink(
        settings,
        "hn-b1",
        on_connected=lambda _: None,
        on_disconnected=lambda: None,
        on_message=lambda t, p: None,
    )


def test_a_refused_connect_is_never_taken_for_a_connection(
    tmp_path: Path, secured_broker: Mosquitto
) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n", encoding="utf-8")
    client = link(secured_broker.port, wrong)
    client.start()
    try:
        wait_for(lambda: client.connack_failures, 10, "the broker to refuse the login")
        time.sleep(0.5)
        assert not client.connected.is_set()
        assert client.publish("bg/v1/dev/hn-b1/events", b"x") is False
        assert any("Not authorized" in k or "Bad user name" in k for k in client.connack_failures)
    finally:
        client.stop()


def test_puback_reason_codes_for_refusals_and_missing_subscribers_are_counted(
    tmp_path: Path, secured_broker: Mosquitto
) -> None:
    right = tmp_path / "right"
    right.write_text("right-password\n", encoding="utf-8")
    client = link(secured_broker.port, right)
    client.start()
    try:
        wait_for(client.connected.is_set, 10, "the connection")
        # Allowed topic, nobody subscribed: accepted yet received by no one (0x10).
        assert client.publish("bg/v1/dev/hn-b1/events", b"x")
        # Another box's topic: the ACL refuses it (0x87), though paho calls it published.
        assert client.publish("bg/v1/dev/hn-b2/events", b"x")
        wait_for(lambda: sum(client.puback_codes.values()) >= 2, 10, "both PUBACKs")
        assert client.puback_codes[NO_MATCHING_SUBSCRIBERS] == 1
        assert client.puback_codes[NOT_AUTHORISED] == 1
    finally:
        client.stop()
