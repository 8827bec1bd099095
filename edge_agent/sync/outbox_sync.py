"""Sync between one gate box and central over MQTT, with application-level acks.

Up: the outbox is published in batches (bounded by events and bytes) inside a window of
unacknowledged events. Nothing leaves the outbox on a PUBACK: only central's ``Ack``, sent
after its database commit, moves ``acked_seq`` forward. When acks stop making progress for
``ack_timeout_s``, or central says it holds events beyond a gap (``Ack.resend``), the box
goes back to ``acked_seq + 1`` and sends again (central ignores what it already has).

When acks stop making progress again and again (central holds a seq conflict for a person to
resolve, or is down), the wait before each resend doubles up to ``ack_timeout_max_s``.

Down: on every connect the box sends ``SyncRequest(cursor)``; declaration changes are applied in
order; a message that starts beyond the box's cursor triggers a new ``SyncRequest``. A
``resync`` command rebuilds the cache beside the live one (see ``store/declarations.py``).

All protocol logic runs on one thread (``_run``); paho's thread only enqueues what it receives.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from edge_agent.config import AgentConfig
from edge_agent.store import EdgeStore
from protocol import topics
from protocol.codec import encode, encode_event_batch
from protocol.inbound import Inbound
from protocol.messages import Ack, Command, DeclarationChanges, DeviceState, SyncRequest
from protocol.mqtt_client import MqttLink
from protocol.signing import SignatureError, load_private, load_public, verify_message

log = logging.getLogger("cuakhau.agent.sync")

SOFTWARE = "cuakhau-agent/0.1"
#: a command from central older than this is refused (it waited while the box was away)
COMMAND_MAX_AGE_S = 300.0
#: How often the box reports its state (backlog, lanes, reader) while connected.
STATE_EVERY_S = 15.0


@dataclass
class SyncStats:
    connects: int = 0
    batches_sent: int = 0
    events_sent: int = 0
    resends: int = 0
    ack_timeouts: int = 0
    acks: int = 0
    declaration_changes_applied: int = 0
    sync_requests: int = 0
    commands: int = 0


class OutboxSync:
    def __init__(
        self,
        config: AgentConfig,
        store: EdgeStore,
        *,
        on_command: Callable[[Command], bool] | None = None,
        reader: str | None = None,
    ) -> None:
        self.config = config
        self.store = store
        #: the plate reader the lanes run, reported in the box's state
        self.reader = reader
        self.device = config.device
        self.gate = config.gate
        self.settings = config.sync
        self.on_command = on_command
        self.stats = SyncStats()
        self.inbound = Inbound(log)
        self.rejects = self.inbound.rejects
        #: an enrolled box seals its batches and believes only what central signed
        self.key = load_private(config.identity.key_file) if config.identity else None
        self.central_key = load_public(config.identity.central_key) if config.identity else None
        self._inbox: queue.Queue[tuple[str, str, bytes]] = queue.Queue()
        self._wake_pending = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = False
        self._acked = store.acked_seq()
        self._next = self._acked + 1
        #: the highest seq sent since the last connect: acks beyond it are not for this box
        self._sent_top = self._acked
        self._last_progress = time.monotonic()
        self._ack_wait = self.settings.ack_timeout_s
        self._last_rewind_at = -1
        self._last_sync_request = 0.0
        #: a SyncRequest held back by the once-a-second limit, sent when the second is up
        self._sync_owed = False
        self._last_state = 0.0
        self._last_prune = 0.0
        offline = DeviceState(device=self.device, gate=self.gate, status="offline")
        self.link = MqttLink(
            config.mqtt,
            client_id=self.device,
            on_connected=lambda _present: self._inbox.put(("connected", "", b"")),
            on_disconnected=lambda: self._inbox.put(("disconnected", "", b"")),
            on_message=lambda topic, payload: self._inbox.put(("message", topic, payload)),
            will=(topics.state(self.device), encode(offline)),
            reconnect_min_s=self.settings.reconnect_min_s,
            reconnect_max_s=self.settings.reconnect_max_s,
            logger=logging.getLogger("cuakhau.agent.mqtt"),
        )
        store.on_emit(self.wake)

    # -- public ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-sync", daemon=True)
        self._thread.start()
        self.link.start()

    def stop(self) -> None:
        self._stop.set()
        self._inbox.put(("stop", "", b""))
        if self._thread:
            self._thread.join(timeout=10)
        if self.link.connected.is_set():
            self._publish_state("offline")
        self.link.stop()

    def wake(self) -> None:
        """New events are in the outbox (called by local producers)."""
        if not self._wake_pending.is_set():
            self._wake_pending.set()
            self._inbox.put(("wake", "", b""))

    @property
    def acked_seq(self) -> int:
        return self._acked

    @property
    def connected(self) -> bool:
        return self._connected

    # -- the loop ------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                kind, topic, payload = self._inbox.get(timeout=self.settings.poll_interval_s)
            except queue.Empty:
                kind, topic, payload = "tick", "", b""
            try:
                self._handle(kind, topic, payload)
                self._housekeeping()
                if self._connected:
                    self._send_window()
            except Exception:  # keep syncing whatever one step did; the outbox is safe on disk
                log.exception("sync step failed kind=%s topic=%s", kind, topic)
                time.sleep(self.settings.poll_interval_s)

    def _handle(self, kind: str, topic: str, payload: bytes) -> None:
        if kind == "wake":
            self._wake_pending.clear()
        elif kind == "connected":
            self._on_connected()
        elif kind == "disconnected":
            self._connected = False
        elif kind == "message":
            self._on_message(topic, payload)

    def _on_connected(self) -> None:
        self.stats.connects += 1
        self._connected = True
        self.link.subscribe(
            [
                topics.ack(self.device),
                topics.command(self.device),
                topics.device_declarations(self.device),
                topics.gate_declarations(self.gate),
            ]
        )
        self._acked = self.store.acked_seq()
        self._next = self._acked + 1
        self._last_progress = time.monotonic()
        self._publish_state("online")
        self._request_sync(force=True)

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic == topics.ack(self.device):
            self._on_ack(payload)
        elif topic in (
            topics.device_declarations(self.device),
            topics.gate_declarations(self.gate),
        ):
            self._on_declarations(payload)
        elif topic == topics.command(self.device):
            self._on_command(payload)
        else:
            self.rejects.reject("mqtt", "topic", f"unexpected topic {topic!r}")

    def _on_ack(self, payload: bytes) -> None:
        ack = self.inbound.take("ack", payload, Ack, owner=self.device)
        if ack is None or not self._signed_by_central("ack", ack):
            return
        if ack.upto > self._sent_top and ack.upto <= self.store.last_seq():
            # Central holds events at seqs this box has not sent since it (re)connected: maybe
            # another client published them under its name. Only what the box itself sent can
            # be acknowledged; it sends them, and central sees the conflict.
            self.rejects.reject(
                "ack", "unsent", f"ack up to {ack.upto}; sent only up to {self._sent_top}"
            )
            return
        try:
            acked = self.store.mark_acked(ack.upto)
        except ValueError as exc:
            self.rejects.reject("ack", "beyond", str(exc))
            return
        self.stats.acks += 1
        if acked > self._acked:
            self._acked = acked
            self._last_progress = time.monotonic()
            self._ack_wait = self.settings.ack_timeout_s
        if self._next <= self._acked:
            self._next = self._acked + 1
        if ack.resend and ack.upto + 1 < self._next and ack.upto != self._last_rewind_at:
            self._last_rewind_at = ack.upto
            self.stats.resends += 1
            self._next = ack.upto + 1

    def _on_declarations(self, payload: bytes) -> None:
        message = self.inbound.take(
            "declarations", payload, DeclarationChanges, owner=self.gate, owner_field="gate"
        )
        if message is None or not self._signed_by_central("declarations", message):
            return
        result = self.store.declarations.apply(message)
        for problem in result.rejected:
            self.rejects.reject("declarations", "content", problem)
        self.stats.declaration_changes_applied += result.applied
        if result.rebuilt:
            log.info(
                "declarations of gate %s rebuilt: %d held, cursor %d",
                self.gate,
                self.store.declarations.count(),
                result.cursor,
            )
        if result.gap:
            log.info(
                "declarations gap gate=%s ours=%d since=%d: asking again",
                self.gate,
                result.cursor,
                message.since,
            )
            self._request_sync()

    def _on_command(self, payload: bytes) -> None:
        command = self.inbound.take("command", payload, Command, owner=self.device)
        if command is None or not self._signed_by_central("command", command):
            return
        age = (datetime.now(UTC) - command.at).total_seconds()
        if self.central_key is not None and abs(age) > COMMAND_MAX_AGE_S:
            self.rejects.reject(
                "command", "stale", f"{command.action} {command.id} {age:.0f} s old"
            )
            return
        if not self.store.lanes.take_command(command.id):
            self.rejects.reject("command", "repeat", f"{command.action} {command.id} taken before")
            return
        self.stats.commands += 1
        log.info(
            "command id=%s action=%s by=%s checkpoint=%s",
            command.id,
            command.action,
            command.by,
            command.checkpoint,
        )
        if command.action == "resync":
            # The live cache stays in use until central's whole answer is in (store docstring).
            self.store.declarations.begin_rebuild(self.gate)
            self._request_sync(force=True)
            return
        if self.on_command is None or not self.on_command(command):
            self.rejects.reject("command", "unhandled", f"no handler took {command.action!r}")

    def _signed_by_central(self, where: str, message: Ack | Command | DeclarationChanges) -> bool:
        """An enrolled box takes only what central signed (counted and logged otherwise)."""
        if self.central_key is None:
            return True
        try:
            verify_message(self.central_key, message)
        except SignatureError as exc:
            self.rejects.reject(where, "signature", str(exc))
            return False
        return True

    # -- sending ---------------------------------------------------------------------------------

    def _request_sync(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_sync_request < 1.0:
            self._sync_owed = True
            return
        self._sync_owed = False
        self._last_sync_request = now
        request = SyncRequest(
            device=self.device,
            gate=self.gate,
            cursor=self.store.declarations.sync_cursor(self.gate),
        )
        if self.link.publish(topics.sync(self.device), encode(request)):
            self.stats.sync_requests += 1

    def _publish_state(self, status: str) -> None:
        state = DeviceState(
            device=self.device,
            gate=self.gate,
            status="online" if status == "online" else "offline",
            at=datetime.now(UTC),
            software=SOFTWARE,
            outbox_pending=self.store.pending_count(),
            acked_seq=self.store.acked_seq(),
            oldest_pending_at=self.store.oldest_pending_at(),
            lanes=self.store.lanes.states(),
            reader=self.reader,
        )
        self.link.publish(topics.state(self.device), encode(state), retain=True)
        self._last_state = time.monotonic()

    def _send_window(self) -> None:
        s = self.settings
        now = time.monotonic()
        in_flight = self._next - 1 - self._acked
        if in_flight > 0 and now - self._last_progress > self._ack_wait:
            self.stats.ack_timeouts += 1
            log.info(
                "no ack progress for %.1fs: resending from seq %d", self._ack_wait, self._acked + 1
            )
            self._next = self._acked + 1
            self._last_progress = now
            self._ack_wait = min(self._ack_wait * 2, max(s.ack_timeout_max_s, s.ack_timeout_s))
            in_flight = 0
        while self._connected and in_flight < s.window_events:
            limit = min(s.batch_max_events, s.window_events - in_flight)
            rows = self.store.read_encoded(self._next - 1, limit, s.batch_max_bytes)
            if not rows:
                return
            payload = encode_event_batch(self.device, [body for _, body in rows], self.key)
            if not self.link.publish(topics.events(self.device), payload):
                return
            if in_flight == 0:
                self._last_progress = now
            self.stats.batches_sent += 1
            self.stats.events_sent += len(rows)
            self._next = rows[-1][0] + 1
            self._sent_top = max(self._sent_top, self._next - 1)
            in_flight = self._next - 1 - self._acked

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if self._connected and self._sync_owed:
            self._request_sync()
        if self._connected and now - self._last_state > STATE_EVERY_S:
            self._publish_state("online")
        if now - self._last_prune > 3600:
            self._last_prune = now
            pruned = self.store.prune()
            if pruned:
                log.info("pruned %d acknowledged events past retention", pruned)
