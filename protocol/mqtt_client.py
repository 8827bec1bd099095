"""A paho-mqtt client set up the one way cuakhau uses it.

- MQTT 5 with ``clean_start=False`` and a session expiry (or MQTT 3.1.1 with a persistent
  session for the embedded amqtt broker, which has no MQTT 5).
- A refused CONNACK is a failure: logged with its reason, never treated as connected.
- PUBACK reason codes are read: 0x10 (no matching subscribers) and failures >= 0x80 such as
  0x87 (not authorised) are counted, because paho still calls them "published".
- No fallback from TLS to plain TCP: with ``tls = true`` a failed handshake stays a failure.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from protocol.mqtt_settings import MqttSettings

NO_MATCHING_SUBSCRIBERS = 0x10
#: Linux's TCP_RTO_MAX_MS (6.15+): the longest a lost segment waits to be sent again. The
#: default (120 s, doubling from 0.2 s) can leave a publish waiting seconds after a cut link
#: comes back; capped at 1 s the backlog flows again within a second of the link's return.
TCP_RTO_MAX_MS = 44
RTO_MAX_MS = 1000


class MqttLink:
    """Owns one paho client; calls back on (successful) connect, disconnect and messages.

    Callbacks run on paho's network thread; keep them short.
    """

    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        *,
        on_connected: Callable[[bool], None],
        on_disconnected: Callable[[], None],
        on_message: Callable[[str, bytes], None],
        will: tuple[str, bytes] | None = None,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.log = logger or logging.getLogger("cuakhau.mqtt")
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._on_message_cb = on_message
        self.connected = threading.Event()
        self.puback_codes: Counter[int] = Counter()
        self.connack_failures: Counter[str] = Counter()
        v5 = settings.protocol == 5
        if v5:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
            )
        else:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=mqtt.MQTTv311,
                clean_session=False,
            )
        client.reconnect_delay_set(
            min_delay=max(1, round(reconnect_min_s)), max_delay=max(1, round(reconnect_max_s))
        )
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        if settings.username:
            client.username_pw_set(settings.username, settings.password())
        if settings.tls:
            context = ssl.create_default_context(cafile=settings.ca_file)
            client.tls_set_context(context)
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_publish = self._handle_publish
        client.on_socket_open = self._tune_socket
        self.client = client
        self._v5 = v5
        #: set by stop(): the disconnection that follows is ours, not news
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        properties = None
        if self._v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.settings.session_expiry_s
            self.client.connect_async(
                self.settings.host,
                self.settings.port,
                keepalive=self.settings.keepalive,
                clean_start=False,
                properties=properties,
            )
        else:
            self.client.connect_async(
                self.settings.host, self.settings.port, keepalive=self.settings.keepalive
            )
        self.client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()
            self.connected.clear()

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> bool:
        """Hand a message to paho; False when not connected (the caller keeps it)."""
        if not self.connected.is_set():
            return False
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def subscribe(self, topics: list[str], qos: int = 1) -> None:
        self.client.subscribe([(t, qos) for t in topics])

    # -- paho callbacks ------------------------------------------------------------------

    def _tune_socket(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        """Resend a lost segment at least every second (where the kernel can be told)."""
        with contextlib.suppress(OSError, AttributeError):  # an older kernel: its own backoff
            sock.setsockopt(socket.IPPROTO_TCP, TCP_RTO_MAX_MS, RTO_MAX_MS)

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            name = str(reason_code)
            self.connack_failures[name] += 1
            if self.connack_failures[name] == 1 or self.connack_failures[name] % 100 == 0:
                self.log.error(
                    "mqtt connect refused broker=%s:%d client=%s reason=%s count=%d",
                    self.settings.host,
                    self.settings.port,
                    self.client_id,
                    name,
                    self.connack_failures[name],
                )
            return
        self.log.info(
            "mqtt connected broker=%s:%d client=%s session_present=%s",
            self.settings.host,
            self.settings.port,
            self.client_id,
            flags.session_present,
        )
        self.connected.set()
        self._on_connected(bool(flags.session_present))

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was:
            level = logging.INFO if self._stopping else logging.WARNING
            self.log.log(
                level, "mqtt disconnected client=%s reason=%s", self.client_id, reason_code
            )
            self._on_disconnected()

    def _handle_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            self._on_message_cb(msg.topic, bytes(msg.payload))
        except Exception:  # a bug in a handler must not kill paho's network thread
            self.log.exception("message handler failed topic=%s", msg.topic)

    def _handle_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        value = int(reason_code.value)
        self.puback_codes[value] += 1
        if value >= 0x80 and self.puback_codes[value] in (1, 100, 10000):
            self.log.error(
                "broker refused publish client=%s reason=%s count=%d",
                self.client_id,
                reason_code,
                self.puback_codes[value],
            )
        elif value == NO_MATCHING_SUBSCRIBERS and self.puback_codes[value] in (1, 100, 10000):
            self.log.warning(
                "published with no subscriber at the broker (central away?) client=%s count=%d",
                self.client_id,
                self.puback_codes[value],
            )
