"""Running one gate box: store, sync, (for now) the synthetic producer; clean stop on signals."""

from __future__ import annotations

import logging
import signal
import threading
import time

from edge_agent.config import AgentConfig
from edge_agent.store import EdgeStore
from edge_agent.sync import OutboxSync
from edge_agent.synthetic import run_synthetic

log = logging.getLogger("cuakhau.agent")


def run_agent(config: AgentConfig, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    store = EdgeStore(
        config.store.path,
        synchronous=config.store.synchronous,
        retention_days=config.store.retention_days,
    )
    from edge_agent.lane.assembly import build_lanes

    lanes = build_lanes(config, store)
    sync = OutboxSync(config, store, on_command=lanes.on_command, reader=lanes.reader)
    log.info(
        "agent starting device=%s gate=%s store=%s broker=%s:%d pending=%d",
        config.device,
        config.gate,
        store.path,
        config.mqtt.host,
        config.mqtt.port,
        store.pending_count(),
    )
    sync.start()
    lanes.start()
    producer = None
    if config.synthetic is not None:
        synthetic = config.synthetic
        producer = threading.Thread(
            target=run_synthetic,
            args=(
                store,
                config.gate,
                synthetic.checkpoint,
                synthetic.rate_per_s,
                synthetic.count,
                stop,
            ),
            name="synthetic",
            daemon=True,
        )
        producer.start()
    last_report = 0.0
    try:
        while not stop.wait(0.5):
            now = time.monotonic()
            if now - last_report >= 10:
                last_report = now
                log.info(
                    "agent status connected=%s last_seq=%d acked=%d pending=%d declarations=%d",
                    sync.connected,
                    store.last_seq(),
                    sync.acked_seq,
                    store.pending_count(),
                    store.declarations.count(),
                )
    finally:
        stop.set()
        if producer is not None:
            producer.join(timeout=5)
        lanes.stop()
        sync.stop()
        store.close()
        log.info("agent stopped")
