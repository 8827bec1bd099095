"""Declarations made at central reach the gate box's cache, live and after being offline."""

from __future__ import annotations

from pathlib import Path

from edge_agent.store import EdgeStore
from testkit import wait_for
from testkit.declarations import declaration
from testkit.mosquitto import Mosquitto
from testkit.processes import Agent, Central, Proc, agent_config


def cached(db: Path, plate: str) -> list[str]:
    store = EdgeStore(db)
    try:
        return [d.status for d in store.declarations.for_plate(plate)]
    finally:
        store.close()


def test_declaration_created_over_http_reaches_the_box_cache(
    tmp_path: Path, mosquitto: Mosquitto, central: Central, processes: list[Proc]
) -> None:
    agent = Agent(tmp_path, agent_config(tmp_path, "hn-d1", mosquitto.port))
    processes.append(agent)
    agent.start()
    wait_for(lambda: central.get("/api/devices"), 20, "the box to introduce itself")
    body = central.declare(declaration("2026112300001", "桂A4K9X1"))
    assert body["published"] is True
    db = tmp_path / "hn-d1.db"
    # The Lang Son platform stores Chinese plates without the province character: both match.
    wait_for(lambda: cached(db, "A4K9X1") == ["accepted"], 20, "the declaration in the cache")
    assert cached(db, "桂A4K9X1") == ["accepted"]


def test_changes_made_while_the_box_was_offline_arrive_in_order_on_reconnect(
    tmp_path: Path, mosquitto: Mosquitto, central: Central, processes: list[Proc]
) -> None:
    config = agent_config(tmp_path, "hn-d2", mosquitto.port)
    agent = Agent(tmp_path, config)
    processes.append(agent)
    agent.start()
    central.declare(declaration("2026112300010", "12C-345.67"))
    db = tmp_path / "hn-d2.db"
    wait_for(lambda: cached(db, "12C34567") == ["accepted"], 20, "the first declaration")
    agent.stop()

    # While the box is away: a new declaration, then it is returned, then re-declared OK;
    # another truck declared; a declaration for another gate (must not reach this box).
    plate = "29H-888.12"
    central.declare(declaration("2026112300011", plate))
    for status in ("returned", "accepted", "returned"):
        central.declare(declaration("2026112300011", plate, status))
    central.declare(declaration("2026112300010", "12C-345.67", "exited"))
    central.declare(declaration("2026112300012", "20C-456.78") | {"gate": "TT"})

    agent.start()
    # In order: the last word on 2026112300011 was "returned", never an earlier state.
    wait_for(lambda: cached(db, plate) == ["returned"], 20, "the offline changes")
    assert cached(db, "12C-345.67") == ["exited"]
    assert cached(db, "20C-456.78") == [], "a TT declaration reached a CKHN box"
    store = EdgeStore(db)
    listed = central.get("/api/declarations/?gate=CKHN")
    assert store.declarations.count() == listed["total"] == 2
    store.close()
