"""Running central: store + MQTT link + HTTP app under uvicorn (+ optional embedded broker).

On SIGTERM or SIGINT central stops within seconds even mid-query: the reads in flight are
interrupted at once (their clients get a 503), uvicorn gives the open requests
``SHUTDOWN_GRACE_S`` to finish, then the MQTT link and the store close.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from types import FrameType

import msgspec
import uvicorn

from central.broker import EmbeddedBroker, check_port_free
from central.broker_access import BrokerAccess
from central.config import CentralConfig
from central.enrolment import Enrolment
from central.ingest import CentralLink
from central.store import CentralStore
from central.web import build_app
from protocol.errors import ConfigError
from protocol.signing import load_or_create_private

log = logging.getLogger("cuakhau.central")

#: How long the open HTTP requests get to finish once central is told to stop.
SHUTDOWN_GRACE_S = 3
#: The environment variable that sets how long one API read may run (ms; default: the store's).
READ_BUDGET_ENV = "CUAKHAU_CENTRAL_READ_BUDGET_MS"


class _Server(uvicorn.Server):
    """uvicorn's server, which also stops the reads in flight when told to exit (a thread
    running an SQLite statement would otherwise keep the process up until it ends)."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._on_exit()


def read_budget_s() -> float | None:
    """The read budget from ``CUAKHAU_CENTRAL_READ_BUDGET_MS`` (None: not set)."""
    raw = os.environ.get(READ_BUDGET_ENV, "").strip()
    if not raw:
        return None
    try:
        ms = float(raw)
    except ValueError:
        raise ConfigError(
            f"{READ_BUDGET_ENV} must be a number of milliseconds, not {raw!r}"
        ) from None
    if not 0 < ms <= 600_000:
        raise ConfigError(f"{READ_BUDGET_ENV} must be between 0 and 600000 ms, not {raw!r}")
    return ms / 1000


def serve(
    config: CentralConfig, *, embedded_broker: bool = False, broker_port: int | None = None
) -> None:
    check_port_free(config.http_host, config.http_port, "central HTTP API")
    broker = None
    if embedded_broker:
        broker = EmbeddedBroker(config.mqtt.host, broker_port)
        broker.start()
        config = msgspec.structs.replace(
            config, mqtt=msgspec.structs.replace(config.mqtt, port=broker.port, protocol=3)
        )
    budget = read_budget_s()  # the environment (tests, one-off runs) before the config
    if budget is None and config.read_budget_ms is not None:
        budget = config.read_budget_ms / 1000
    store = (
        CentralStore(config.db) if budget is None else CentralStore(config.db, read_budget_s=budget)
    )
    key = load_or_create_private(config.central_key_file)
    if not config.require_enrolment:
        log.warning(
            "boxes that were never enrolled are heard (require_enrolment = false); enrolled"
            " boxes must seal their batches"
        )
    link = CentralLink(
        store,
        config.mqtt,
        client_id=config.client_id,
        shared_group=config.shared_group,
        key=key,
        require_enrolment=config.require_enrolment,
    )
    access = None
    if config.broker_access is not None:
        access = BrokerAccess(
            config.broker_access.dir,
            config.mqtt.username or config.client_id,
            config.mqtt.password() or "",
            config.broker_access.pid_file,
        )
    enrolment = Enrolment(link.identities, key, config.broker_access, access)
    link.start()
    app = build_app(store, link, secure_cookies=config.secure_cookies, enrolment=enrolment)
    log.info(
        "central serving api=http://%s:%d/ schema=http://%s:%d/schema mqtt=%s:%d db=%s",
        config.http_host,
        config.http_port,
        config.http_host,
        config.http_port,
        config.mqtt.host,
        config.mqtt.port,
        config.db,
    )
    server = _Server(
        uvicorn.Config(
            app,
            host=config.http_host,
            port=config.http_port,
            log_level="warning",
            log_config=None,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        ),
        on_exit=lambda: store.interrupt_reads("central is stopping"),
    )
    try:
        server.run()
    finally:
        if broker is not None:
            broker.stop()
