"""Central's HTTP API as staff clients read it, on a running central (declarations:
test_central_lifecycle.py; who may call what: test_central_access.py)."""

from __future__ import annotations

from pathlib import Path

from testkit import wait_for
from testkit.mosquitto import Mosquitto
from testkit.outbox import fill_outbox
from testkit.processes import Agent, Central, Proc, agent_config


def test_events_are_listed_filtered_and_paged(
    tmp_path: Path, mosquitto: Mosquitto, central: Central, processes: list[Proc]
) -> None:
    agent = Agent(tmp_path, agent_config(tmp_path, "hn-a1", mosquitto.port))
    processes.append(agent)
    agent.start()
    fill_outbox(tmp_path / "hn-a1.db", 250)
    wait_for(lambda: central.acked("hn-a1") == 250, 20, "the events")
    seen: list[int] = []
    before = None
    while True:
        page = central.get(
            "/api/events?device=hn-a1&limit=100" + (f"&before={before}" if before else "")
        )
        seen += [e["seq"] for e in page["items"]]
        before = page["next"]
        if before is None:
            break
    assert seen == list(range(250, 0, -1))
    assert central.get("/api/events?kind=presence")["items"] == []
    assert central.get("/api/events/hn-a1/7")["kg"] == 6
    device = central.get("/api/devices")[0]
    assert device["device"] == "hn-a1" and device["acked_seq"] == 250
    assert device["status"] == "online" and device["gate"] == "CKHN"
    code, body = central.send("GET", "/api/events?kind=bogus", None)
    assert code == 400 and "unknown event kind" in body["detail"]
    assert central.send("GET", "/api/events?limit=5000", None)[0] == 400
    assert central.send("GET", "/api/events/hn-a1/9999", None)[0] == 404
    schema = central.get("/schema/openapi.json")
    assert "/api/declarations" in schema["paths"] and "/api/events" in schema["paths"]
