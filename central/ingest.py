"""Central's MQTT side: ingest events, device states and sync requests; publish downlinks.

An ``Ack`` is published only after the batch is committed to the database, and it names the
highest *contiguous* seq central holds for that box, so a gap is re-requested by the ack itself.
The ack never passes a seq that central holds with another event than the box sent (a seq
conflict, an incident until someone resolves it), and events implausibly far ahead are refused.
Everything that arrives is validated; garbage is refused, counted and logged once per kind; an
event that fails validation but carries its seq is kept aside as invalid, never lost.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Literal, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.evidence_store import EvidenceStore
from central.identities import Identity, IdentityStore
from central.store import CentralStore
from protocol import topics
from protocol.codec import ProtocolError, SplitBatch, encode, split_event_batch
from protocol.inbound import Inbound
from protocol.messages import Ack, Command, DeclarationChanges, DeviceState, SyncRequest
from protocol.mqtt_client import MqttLink
from protocol.mqtt_settings import MqttSettings
from protocol.signing import SignatureError, event_hash, sign_message, verify_seal

log = logging.getLogger("cuakhau.central.ingest")

T = TypeVar("T", Ack, Command, DeclarationChanges)


class CentralLink:
    def __init__(
        self,
        store: CentralStore,
        settings: MqttSettings,
        *,
        client_id: str = "cuakhau-central",
        shared_group: str | None = None,
        key: Ed25519PrivateKey | None = None,
        require_enrolment: bool = False,
    ) -> None:
        self.store = store
        self.identities = IdentityStore(store.file)
        self.evidence = EvidenceStore(store.file)
        #: signs everything central sends down (boxes enrolled with its public key check it)
        self.key = key
        self.require_enrolment = require_enrolment
        self.inbound = Inbound(log)
        self.rejects = self.inbound.rejects
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

    def _signed(self, message: T) -> T:
        return sign_message(self.key, message) if self.key is not None else message

    def publish_declarations(self, message: DeclarationChanges) -> bool:
        return self.link.publish(
            topics.gate_declarations(message.gate), encode(self._signed(message))
        )

    def send_command(self, command: Command) -> bool:
        return self.link.publish(topics.command(command.device), encode(self._signed(command)))

    def acknowledge(self, device: str, upto: int, resend: bool = False) -> bool:
        """Tell a box how far central holds its events."""
        ack = self._signed(Ack(device=device, upto=upto, resend=resend))
        return self.link.publish(topics.ack(device), encode(ack))

    # -- uplink ----------------------------------------------------------------------------

    def _on_connected(self, session_present: bool) -> None:
        self.link.subscribe(self._subscriptions)

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            device, leaf = topics.parse_device_topic(topic)
        except ValueError as exc:
            self.rejects.reject("topic", "unknown", str(exc))
            return
        handler = {"events": self._on_events, "state": self._on_state, "sync": self._on_sync}
        if leaf not in handler:
            self.rejects.reject("topic", "leaf", f"unexpected topic {topic!r}")
            return
        try:
            handler[leaf](device, payload)
        except Exception as exc:  # a bug must not kill ingest; the box resends what is unacked
            self.rejects.reject(leaf, "internal", f"{type(exc).__name__}: {exc}")
            if self.counters["internal_errors"] == 0:
                log.exception("handling %s from %s failed", leaf, device)
            self.counters["internal_errors"] += 1

    def _on_events(self, device: str, payload: bytes) -> None:
        try:
            batch = split_event_batch(payload)
        except ProtocolError as exc:
            self.rejects.reject("events", "decode", str(exc))
            return
        if batch.device != device:
            self.rejects.reject(
                "events", "ownership", f"batch for {batch.device!r} on the topic of {device!r}"
            )
            return
        authentic = self._authentic(device, batch)
        if not authentic:
            return
        for reason in batch.unreadable:
            self.rejects.reject("events", "unreadable", f"{device}: {reason}")
        for invalid in batch.invalid:
            self.rejects.reject(
                "events", "invalid", f"{device} seq {invalid.seq}: {invalid.reason}"
            )
        if any(e.seq < 1 or not e.id for e in [*batch.events, *batch.invalid]):
            self.rejects.reject("events", "content", "events need seq >= 1 and an id")
            return
        if not batch.events and not batch.invalid:
            if not batch.unreadable:
                self.rejects.reject("events", "content", "empty batch")
            return
        result = self.store.ingest(device, batch.events, batch.invalid)
        if authentic == "sealed" and batch.seal:  # kept as signed, for the crossing's evidence
            self.evidence.keep(device, batch.array, batch.seal)
        if result.conflicts:
            self.rejects.reject(
                "events",
                "seq_conflict",
                f"{device}: {result.conflicts} seqs arrived with other event ids than central"
                f" holds; the ack stops at {result.acked_seq} until the incident is resolved",
            )
        if result.far_ahead:
            self.rejects.reject(
                "events",
                "far_ahead",
                f"{device}: {result.far_ahead} events more than {self.store.max_seq_ahead}"
                f" beyond its contiguous seq {result.acked_seq}",
            )
        self.counters["batches"] += 1
        self.counters["events_stored"] += result.stored
        self.counters["duplicates"] += result.duplicates
        self.counters["events_quarantined"] += result.quarantined
        self.acknowledge(device, result.acked_seq, result.resend)

    def _admitted(self, where: str, device: str) -> Identity | bool | None:
        """Whether ``device`` may be heard at all: its identity (enrolled), None (never
        enrolled, and enrolment is not required) or False (revoked, or not enrolled when it
        is required; counted)."""
        identity = self.identities.identity(device)
        if identity is None:
            if self.require_enrolment:
                self.rejects.reject(where, "unenrolled", f"{device} was never enrolled")
                return False
            return None
        if identity.revoked_at is not None:
            self.rejects.reject(where, "revoked", f"{device} was revoked {identity.revoked_at}")
            return False
        return identity

    def _authentic(self, device: str, batch: SplitBatch) -> Literal["sealed", "open", False]:
        """An enrolled box's batch must carry its seal, and its events one chain ("sealed"); a
        revoked box is heard no more; an unknown one only when enrolment is not required
        ("open")."""
        identity = self._admitted("events", device)
        if not isinstance(identity, Identity):  # never enrolled and allowed (None), or refused
            return "open" if identity is None else False
        try:
            verify_seal(identity.public_key, device, batch.array, batch.seal)
        except SignatureError as exc:
            self.rejects.reject("events", "seal", str(exc))
            self.store.record_incident(
                "forged_batch",
                device=device,
                ref=(batch.seal or b"").hex()[:32],
                summary=f"a batch for {device} that {device} did not sign: {exc}",
                detail={"events": len(batch.events) + len(batch.invalid), "problem": str(exc)},
            )
            return False
        first = batch.events[0] if batch.events else None
        previous = self.evidence.raw(device, first.seq - 1) if first is not None else None
        if first is not None and previous is not None and first.prev != event_hash(previous):
            # the box's chain runs through every event it ever signed, across batches
            self.rejects.reject("events", "chain", f"{device} seq {first.seq} breaks its chain")
            self.store.record_incident(
                "forged_batch",
                device=device,
                ref=(batch.seal or b"").hex()[:32],
                summary=f"a batch for {device} whose first event does not follow its chain",
                detail={"seq": first.seq, "problem": "prev hash differs from the stored event"},
            )
            return False
        for before, after, body in zip(
            batch.events, batch.events[1:], batch.bodies(), strict=False
        ):
            if after.seq == before.seq + 1 and after.prev != event_hash(bytes(body)):
                self.rejects.reject("events", "chain", f"{device} seq {after.seq} breaks its chain")
                return False
        return "sealed"

    def _at_its_gate(self, where: str, device: str, gate: str) -> bool:
        """An enrolled box speaks only for the gate it was enrolled at (a box asking for
        another gate's declarations would read its drivers' data)."""
        identity = self._admitted(where, device)
        if identity is False:
            return False
        if isinstance(identity, Identity) and gate != identity.gate:
            self.rejects.reject(
                where, "gate", f"{device} is enrolled at {identity.gate}, not {gate}"
            )
            return False
        return True

    def _on_state(self, device: str, payload: bytes) -> None:
        if not payload:  # a cleared retained message
            return
        state = self.inbound.take("state", payload, DeviceState, owner=device)
        if state is None or not self._at_its_gate("state", device, state.gate):
            return
        self.store.record_state(state)
        self.counters["states"] += 1

    def _on_sync(self, device: str, payload: bytes) -> None:
        request = self.inbound.take("sync", payload, SyncRequest, owner=device)
        if request is None or not self._at_its_gate("sync", device, request.gate):
            return
        self.store.note_gate(device, request.gate)
        # Acks too: a box reconnecting after central lost the ack finds out where it stands.
        self.acknowledge(device, self.store.device_acked(device))
        for message in self.store.changes_after(request.gate, request.cursor):
            self.link.publish(topics.device_declarations(device), encode(self._signed(message)))
        self.counters["sync_requests"] += 1
