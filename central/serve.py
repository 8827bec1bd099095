"""Running central: store + MQTT link + HTTP app under uvicorn (+ optional embedded broker)."""

from __future__ import annotations

import logging

import msgspec
import uvicorn

from central.api import build_app
from central.broker import EmbeddedBroker, check_port_free
from central.config import CentralConfig
from central.ingest import CentralLink
from central.store import CentralStore

log = logging.getLogger("cuakhau.central")


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
    store = CentralStore(config.db)
    link = CentralLink(
        store, config.mqtt, client_id=config.client_id, shared_group=config.shared_group
    )
    link.start()
    app = build_app(store, link)
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
    try:
        uvicorn.run(
            app, host=config.http_host, port=config.http_port, log_level="warning", log_config=None
        )
    finally:
        if broker is not None:
            broker.stop()
