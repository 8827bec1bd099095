"""Central's MQTT side: ingest events, device states and sync requests; publish downlinks.

An ``Ack`` is published only after the batch is committed to the database, and it names the
highest *contiguous* seq central holds for that box, so a gap is re-requested by the ack itself.
Everything that arrives is validated; garbage is refused, counted and logged once per kind.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

from central.store import CentralStore
from protocol import topics
from protocol.codec import ProtocolError, decode, encode
from protocol.messages import Ack, Command, DeclarationChanges, DeviceState, EventBatch, SyncRequest
from protocol.mqtt_client import MqttLink
from protocol.mqtt_settings import MqttSettings
from protocol.rejects import RejectCounter

log = logging.getLogger("cuakhau.central.ingest")


class CentralLink:
    def __init__(
        self,
        store: CentralStore,
        settings: MqttSettings,
        *,
        client_id: str = "cuakhau-central",
        shared_group: str | None = None,
    ) -> None:
        self.store = store
        self.rejects = RejectCounter(log)
        self.counters: Counter[str] = Counter()
        self._lock = threading.Lock()
        prefix = f"$share/{shared_group}/" if shared_group else ""
        self._subscriptions = [prefix + t for t in topics.CENTRAL_SUBSCRIPTIONS]
        self.link = MqttLink(
            settings,
            client_id=client_id,
            on_connected=self._on_connected,
            on_disconnected=lambda: None,
            on_message=self._on_message,
            logger=logging.getLogger("cuakhau.central.mqtt"),
        )

    def start(self) -> None:
        self.link.start()

    def stop(self) -> None:
        self.link.stop()

    @property
    def connected(self) -> bool:
        return self.link.connected.is_set()

    # -- downlink --------------------------------------------------------------------------

    def publish_declarations(self, message: DeclarationChanges) -> bool:
        return self.link.publish(topics.gate_declarations(message.gate), encode(message))

    def send_command(self, command: Command) -> bool:
        return self.link.publish(topics.command(command.device), encode(command))

    # -- uplink ----------------------------------------------------------------------------

    def _on_connected(self, session_present: bool) -> None:
        self.link.subscribe(self._subscriptions)

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            device, leaf = topics.parse_device_topic(topic)
        except ValueError as exc:
            self.rejects.reject("topic", "unknown", str(exc))
            return
        if leaf == "events":
            self._on_events(device, payload)
        elif leaf == "state":
            self._on_state(device, payload)
        elif leaf == "sync":
            self._on_sync(device, payload)
        else:
            self.rejects.reject("topic", "leaf", f"unexpected topic {topic!r}")

    def _on_events(self, device: str, payload: bytes) -> None:
        try:
            batch = decode(payload, EventBatch)
        except ProtocolError as exc:
            self.rejects.reject("events", "decode", str(exc))
            return
        if batch.device != device:
            self.rejects.reject(
                "events", "ownership", f"batch for {batch.device!r} on the topic of {device!r}"
            )
            return
        bad = [e for e in batch.events if e.seq < 1 or not e.id]
        if bad:
            self.rejects.reject("events", "content", "events need seq >= 1 and an id")
            return
        if not batch.events:
            self.rejects.reject("events", "content", "empty batch")
            return
        result = self.store.ingest(device, batch.events)
        if result.conflicts:
            self.rejects.reject(
                "events", "seq_conflict", f"{device}: {result.conflicts} seqs reused with new ids"
            )
        self.counters["batches"] += 1
        self.counters["events_stored"] += result.stored
        self.counters["duplicates"] += result.duplicates
        ack = Ack(device=device, upto=result.acked_seq, resend=result.beyond_gap)
        self.link.publish(topics.ack(device), encode(ack))

    def _on_state(self, device: str, payload: bytes) -> None:
        if not payload:  # a cleared retained message
            return
        try:
            state = decode(payload, DeviceState)
        except ProtocolError as exc:
            self.rejects.reject("state", "decode", str(exc))
            return
        if state.device != device:
            self.rejects.reject("state", "ownership", f"state of {state.device!r} on {device!r}")
            return
        self.store.record_state(state)
        self.counters["states"] += 1

    def _on_sync(self, device: str, payload: bytes) -> None:
        try:
            request = decode(payload, SyncRequest)
        except ProtocolError as exc:
            self.rejects.reject("sync", "decode", str(exc))
            return
        if request.device != device:
            self.rejects.reject("sync", "ownership", f"sync of {request.device!r} on {device!r}")
            return
        self.store.note_gate(device, request.gate)
        # Acks too: a box reconnecting after central lost the ack finds out where it stands.
        self.link.publish(
            topics.ack(device), encode(Ack(device=device, upto=self.store.device_acked(device)))
        )
        for message in self.store.changes_after(request.gate, request.cursor):
            self.link.publish(topics.device_declarations(device), encode(message))
        self.counters["sync_requests"] += 1
