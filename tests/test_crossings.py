"""Crossings as rows of their own: written at ingest with their event, opened by the override
that followed them, listed by what staff ask in one indexed statement each; plate crops stored
once by hash and served as JPEG; every read under a time budget, over HTTP with a real central."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from central.store import CentralStore
from protocol.messages import Event, LaneDecision, ManualOverride, PlateRead, Presence
from protocol.sqlite_file import QueryCancelledError, QueryTimeoutError
from testkit import wait_for
from testkit.crossings import Box as _Box
from testkit.crossings import crop_jpeg, fetch, fill_outbox_trucks, truck_events
from testkit.mosquitto import Mosquitto
from testkit.processes import Agent, Central, Proc, agent_config

FIXTURES = Path(__file__).parent / "fixtures"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


class Box(_Box):
    def __init__(self, store: CentralStore, device: str = "b1", gate: str | None = "CKHN") -> None:
        super().__init__(store, device, gate, start=T0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CentralStore]:
    s = CentralStore(tmp_path / "central.db", synchronous="NORMAL")
    yield s
    s.close()


def held_now(store: CentralStore, **filters: Any) -> list[str | None]:
    return [c.plate for c in store.crossings.list(held=True, **filters)[0]]


# -- the store ---------------------------------------------------------------------------------


def test_each_stored_lane_decision_is_a_crossing_with_its_gate_and_crop(
    store: CentralStore,
) -> None:
    box = Box(store)
    crop = crop_jpeg(1)
    box.truck(0, "12C-345.67", declaration="2026112300001", crop=crop)
    box.truck(1, "29H-888.12", hold=True, crop=crop_jpeg(2))
    items, nxt = store.crossings.list()
    assert nxt is None and [c.plate for c in items] == ["29H-888.12", "12C-345.67"]
    held, opened = items
    assert (held.decision, held.held, held.reasons) == ("hold", True, ["declaration_missing"])
    assert (opened.gate, opened.checkpoint, opened.device, opened.seq) == (
        "CKHN",
        "barrier-in",
        "b1",
        2,
    )
    assert opened.plate_key == "12C34567" and opened.declaration == "2026112300001"
    assert opened.weight_kg == 24_500.0 and opened.at == T0 + timedelta(milliseconds=400)
    assert opened.crop is not None and opened.crop_url == f"/api/crops/{opened.crop}"
    assert store.crossings.crop(opened.crop) == crop
    assert store.crossings.get(opened.id) == opened
    # a resent batch changes nothing
    again = store.ingest("b1", store_events(store, "b1"))
    assert again.stored == 0 and len(store.crossings.list()[0]) == 2


def store_events(store: CentralStore, device: str) -> list[Event]:
    """The device's events as the box sent them (from central's JSON, crops dropped)."""
    out: list[Event] = []
    for seq in store.event_seqs(device):
        item = store.get_event(device, seq)
        assert item is not None
        body = {k: v for k, v in item.items() if k not in ("device", "received_at", "crop_url")}
        body.pop("crop", None)
        out.append(msgspec.convert(body, Event, strict=False))
    return out


def test_a_crossing_gets_its_gate_once_central_hears_it(store: CentralStore) -> None:
    box = Box(store, gate=None)
    box.truck(0, "12C-345.67")
    assert store.crossings.list()[0][0].gate is None
    store.note_gate("b1", "TT")
    box.send([Presence(at=T0 + timedelta(minutes=5), checkpoint="barrier-in", present=True)])
    assert [c.gate for c in store.crossings.list(gate="TT")[0]] == ["TT"]


def test_an_override_opens_the_held_crossing_it_followed_and_only_that_one(
    store: CentralStore,
) -> None:
    box = Box(store)
    box.truck(0, "29H-111.11", hold=True)  # held, and the truck backs out: nobody opens it
    box.truck(1, "29H-222.22", hold=True, checkpoint="barrier-out")
    box.truck(2, "29H-333.33", hold=True, override_by="guard.le")
    assert held_now(store) == ["29H-222.22", "29H-111.11"]
    opened = store.crossings.list(plate="29H-333.33")[0][0]
    assert (opened.decision, opened.held, opened.overridden_by) == ("hold", False, "guard.le")
    assert opened.override_reason == "papers checked at the window"
    assert opened.overridden_at == T0 + timedelta(minutes=2, seconds=30)
    # an override at the other checkpoint opens the one held there
    box.send(
        [
            ManualOverride(
                at=T0 + timedelta(minutes=3), checkpoint="barrier-out", by="guard.vu", reason="ok"
            )
        ]
    )
    assert held_now(store) == ["29H-111.11"]
    assert [c.plate for c in store.crossings.list(held=False)[0]] == ["29H-333.33", "29H-222.22"]
    assert len(store.crossings.list(decision="hold")[0]) == 3


def test_an_override_ahead_of_a_gap_waits_and_never_opens_an_older_crossing(
    store: CentralStore,
) -> None:
    box = Box(store)
    box.truck(0, "29H-111.11", hold=True)  # seqs 1-3, stays held
    later = box.number(
        truck_events(T0 + timedelta(minutes=1), "29H-444.44", hold=True, override_by="guard.le")
    )  # seqs 4-7: read, decision, override, clear
    # the batch with the read and the decision is lost; the override arrives first
    assert store.ingest("b1", later[2:]).resend
    assert held_now(store) == ["29H-111.11"], "the override must not open the older hold"
    store.ingest("b1", later[:2])  # the gap fills: the override finds its decision
    assert held_now(store) == ["29H-111.11"]
    assert store.crossings.list(plate="29H-444.44")[0][0].overridden_by == "guard.le"


def test_a_crossing_is_written_only_with_its_event(store: CentralStore) -> None:
    box = Box(store)
    box.send([Presence(at=T0, checkpoint="barrier-in", present=True)])  # seq 1
    forged = LaneDecision(
        seq=1, id="forged", at=T0, checkpoint="barrier-in", plate="99A-999.99", decision="open"
    )
    result = store.ingest("b1", [forged])
    assert result.conflicts == 1
    assert store.crossings.list()[0] == [], "a seq conflict is kept aside, not a crossing"


def test_a_resolved_conflict_brings_the_kept_decision_as_the_crossing(
    store: CentralStore,
) -> None:
    box = Box(store)
    box.send([Presence(at=T0, checkpoint="barrier-in", present=True)])  # seq 1, the box's
    forged = Presence(seq=2, id="forged-2", at=T0, checkpoint="barrier-in", present=False)
    store.ingest("b1", [forged])  # a forger takes seq 2 first
    real = box.send(
        [LaneDecision(at=T0, checkpoint="barrier-in", plate="12C-345.67", decision="hold")]
    )
    assert store.ingest("b1", real).conflicts == 1 and store.crossings.list()[0] == []
    incident = store.list_incidents(kind="seq_conflict")[0]
    store.resolve_conflict(incident["id"], "incoming", "ops.le", "the box's")
    with store.file.transaction() as conn:  # what resolve_conflict calls when it replaces one
        store.crossings.event_replaced(conn, "b1", 2)
    assert [(c.seq, c.held) for c in store.crossings.list()[0]] == [(2, True)]


def test_held_now_lists_newest_first_and_pages_by_keyset(store: CentralStore) -> None:
    box = Box(store)
    for i in range(25):
        box.truck(i, f"29H-{i:03d}.00", hold=i % 2 == 0, override_by="g" if i % 4 == 0 else None)
    expected = [f"29H-{i:03d}.00" for i in range(24, -1, -1) if i % 2 == 0 and i % 4 != 0]
    pages: list[str | None] = []
    before = None
    while True:
        page, before = store.crossings.list(held=True, limit=2, before=before)
        pages += [c.plate for c in page]
        if before is None:
            break
    assert pages == expected
    everything: list[int] = []
    before = None
    while True:
        items, before = store.crossings.list(limit=7, before=before)
        everything += [c.seq for c in items]
        if before is None:
            break
    assert len(everything) == 25 and everything == sorted(everything, reverse=True)


def test_crossings_by_gate_and_time_declaration_device_and_decision(store: CentralStore) -> None:
    hn = Box(store, "hn-1", "CKHN")
    tt = Box(store, "tt-1", "TT")
    for i in range(6):
        hn.truck(i * 60, f"12C-{i:03d}.00", declaration=f"20261123{i:05d}")
        tt.truck(i * 60 + 1, f"29H-{i:03d}.00", hold=i == 3)
    day = store.crossings.list(
        gate="CKHN", since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=4)
    )[0]
    assert [c.plate for c in day] == ["12C-003.00", "12C-002.00"]
    assert [c.plate for c in store.crossings.list(declaration="2026112300004")[0]] == ["12C-004.00"]
    assert [c.seq for c in store.crossings.list(device="tt-1", limit=3)[0]] == [17, 14, 11]
    assert [c.plate for c in store.crossings.list(gate="TT", decision="hold")[0]] == ["29H-003.00"]
    assert len(store.crossings.list(decision="open")[0]) == 11
    assert store.crossings.list(checkpoint="yard-in")[0] == []
    # several filters at once: one leads, the others only filter
    both = store.crossings.list(gate="TT", plate="29H003.00", decision="hold", held=True)[0]
    assert [c.plate for c in both] == ["29H-003.00"]


def test_a_plate_is_found_in_either_spelling(store: CentralStore) -> None:
    box = Box(store)
    box.truck(0, "桂A4K9X1")
    box.truck(1, "12C-345.67")
    for spelling in ("桂A4K9X1", "A4K9X1", "a4k9x1"):
        assert [c.plate for c in store.crossings.list(plate=spelling)[0]] == ["桂A4K9X1"]
    for spelling in ("12C-345.67", "12C34567", "12c 345 67"):
        assert [c.plate for c in store.crossings.list(plate=spelling)[0]] == ["12C-345.67"]
    assert [e["kind"] for e in store.list_events(plate="A4K9X1")[0]] == [
        "lane_decision",
        "plate_read",
    ]


def test_a_crop_is_stored_once_and_events_name_it_by_hash(store: CentralStore) -> None:
    box = Box(store)
    crop = crop_jpeg(7)
    box.truck(0, "12C-345.67", crop=crop)
    box.truck(1, "12C-345.67", crop=crop)  # the same crop again (a box resending a truck)
    box.send(  # no crop
        [PlateRead(at=T0 + timedelta(minutes=2), checkpoint="barrier-in", plate="12C-345.67")]
    )
    assert store.file.one("SELECT count(*), sum(bytes) FROM crops") == (1, len(crop))
    digest = store.crossings.list()[0][0].crop
    assert digest is not None
    events = store.list_events(kind="plate_read")[0]
    assert [e.get("crop") for e in events] == [None, digest, digest]
    assert all("crop_jpeg" not in e for e in events)
    assert events[1]["crop_url"] == f"/api/crops/{digest}" and events[0]["crop_url"] is None
    raw = store.file.one("SELECT body FROM events WHERE kind = 'lane_decision' LIMIT 1")[0]
    assert "crop_jpeg" not in raw and digest in raw and len(raw) < 600
    assert store.crossings.crop("0" * 64) is None and store.crossings.crop("../etc") is None


def test_a_database_from_release_0_1_0_gets_its_crossings_and_crops(tmp_path: Path) -> None:
    path = tmp_path / "central.db"
    shutil.copy(FIXTURES / "central-0.1.0.db", path)
    # as 0.1.0 stored them: a held truck with its crop inline (base64), then its override
    crop = crop_jpeg(3)
    at = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # after the fixture's crossing
    old = [
        LaneDecision(
            seq=6,
            id="old-6",
            at=at,
            checkpoint="barrier-in",
            plate="29H-888.12",
            decision="hold",
            reasons=["declaration_missing"],
            crop_jpeg=crop,
        ),
        ManualOverride(
            seq=7, id="old-7", at=at, checkpoint="barrier-in", by="bg.tran", reason="ok"
        ),
    ]
    conn = sqlite3.connect(path)
    for e in old:
        conn.execute(
            "INSERT INTO events(device, seq, id, kind, at, checkpoint, plate_key, received_at,"
            " body) VALUES ('hn-b1-01', ?, ?, ?, ?, 'barrier-in', ?, ?, ?)",
            (
                e.seq,
                e.id,
                type(e).__struct_config__.tag,
                at.isoformat(),
                "29H88812" if isinstance(e, LaneDecision) else None,
                at.isoformat(),
                msgspec.json.encode(e).decode(),
            ),
        )
    conn.execute("UPDATE devices SET acked_seq = 7, max_seq = 7")
    conn.commit()
    conn.close()
    store = CentralStore(path)
    try:
        items = store.crossings.list()[0]
        assert [(c.seq, c.decision, c.held) for c in items] == [
            (6, "hold", False),
            (4, "hold", True),
        ]
        assert items[0].overridden_by == "bg.tran" and items[1].declaration == "2026112400002"
        assert items[1].gate == "CKHN" and items[1].reasons == ["declaration_returned"]
        assert items[0].crop is not None and store.crossings.crop(items[0].crop) == crop
        event = store.get_event("hn-b1-01", 6)
        assert event is not None and "crop_jpeg" not in event
        assert event["crop_url"] == items[0].crop_url
        assert store.get_event("hn-b1-01", 2)["crop"] is None  # type: ignore[index]
        assert store.event_seqs("hn-b1-01") == [1, 2, 3, 4, 5, 6, 7]
    finally:
        store.close()


# -- reads: one indexed statement each, under a budget, never behind the writer ----------------


def test_every_list_is_one_indexed_statement_without_a_sort(store: CentralStore) -> None:
    Box(store).truck(0, "12C-345.67", hold=True)
    seen: list[tuple[str, tuple[Any, ...]]] = []
    real = store.reads.all

    def spy(sql: str, params: Any = (), budget: Any = None) -> list[Any]:
        seen.append((sql, tuple(params)))
        return real(sql, params, budget)

    store.reads.all = spy  # type: ignore[method-assign]
    since, until = T0, T0 + timedelta(days=1)
    crossing_filters: list[dict[str, Any]] = [
        {},
        {"held": True},
        {"decision": "hold"},
        {"decision": "open"},
        {"gate": "CKHN", "since": since, "until": until},
        {"plate": "12C34567"},
        {"declaration": "2026112300001"},
        {"device": "b1"},
        {"checkpoint": "barrier-in"},
        {"held": True, "gate": "CKHN", "before": 1},
        {"plate": "12C34567", "held": True, "gate": "CKHN", "decision": "hold"},
    ]
    event_filters: list[dict[str, Any]] = [
        {},
        {"kind": "lane_decision"},
        {"since": since, "until": until},
        {"kind": "presence", "device": "b1", "before": 3},
        {"device": "b1", "before": 2},
        {"plate": "12C-345.67", "kind": "plate_read"},
        {"checkpoint": "barrier-in"},
    ]
    for filters in crossing_filters:
        store.crossings.list(**filters)
    for filters in event_filters:
        store.list_events(**filters)
    assert len(seen) == 18
    for sql, params in seen:
        plan = [r[3] for r in store.file.all("EXPLAIN QUERY PLAN " + sql, params)]
        assert not any("TEMP B-TREE" in step for step in plan), (sql, plan)
        assert any(step.startswith(("SEARCH", "SCAN")) and "INDEX" in step for step in plan), (
            sql,
            plan,
        )


def test_a_read_past_its_budget_or_cancelled_stops_with_a_clear_error(
    store: CentralStore,
) -> None:
    endless = (
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n)"
        " SELECT count(*) FROM (SELECT x FROM n LIMIT 1000000000)"
    )
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError, match="budget of 50 ms"):
        store.reads.all(endless, (), store.read_budget(0.05))
    assert time.monotonic() - started < 1.0

    budget = store.read_budget(60)
    threading.Timer(0.1, budget.cancel, ("the client disconnected",)).start()
    with pytest.raises(QueryCancelledError, match="client disconnected"):
        store.reads.all(endless, (), budget)

    stopping = threading.Timer(0.1, store.interrupt_reads, ("central is stopping",))
    stopping.start()
    started = time.monotonic()
    with pytest.raises(QueryCancelledError, match="stopping"):
        store.reads.all(endless, (), store.read_budget(60))
    assert time.monotonic() - started < 2.0
    assert store.reads.one("SELECT 1") == (1,), "the pool goes on serving"


def test_reads_never_wait_for_the_writer(store: CentralStore) -> None:
    box = Box(store)
    box.truck(0, "12C-345.67")
    holding = threading.Event()
    release = threading.Event()

    def long_write() -> None:
        with store.file.transaction() as conn:
            conn.execute("UPDATE devices SET last_seen = last_seen")
            holding.set()
            release.wait(10)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert holding.wait(5)
        started = time.monotonic()
        assert len(store.crossings.list()[0]) == 1
        assert store.list_events(device="b1")[0]
        assert time.monotonic() - started < 0.5
    finally:
        release.set()
        writer.join()


# -- over HTTP, with a real central -------------------------------------------------------------


def test_crossings_crops_and_events_over_http_from_a_box(
    tmp_path: Path, mosquitto: Mosquitto, central: Central, processes: list[Proc]
) -> None:
    made = fill_outbox_trucks(tmp_path / "hn-c1.db", 40)  # every 20th held, every other opened
    agent = Agent(tmp_path, agent_config(tmp_path, "hn-c1", mosquitto.port))
    processes.append(agent)
    agent.start()
    wait_for(lambda: central.acked("hn-c1") == made, 30, "the trucks at central")

    page = central.get("/api/crossings?limit=1000", role="viewer")
    assert len(page["items"]) == 40 and page["next"] is None
    assert page["items"][0]["gate"] == "CKHN"
    held = central.get("/api/crossings?held=true", role="border_guard")["items"]
    assert [c["plate"] for c in held] == ["29C-000.00"]  # truck 19 held; truck 39 opened by hand
    opened = central.get("/api/crossings?decision=hold", role="viewer")["items"]
    assert [c["overridden_by"] for c in opened] == ["guard.le", None]
    assert central.get("/api/crossings?plate=29C00000", role="viewer")["items"] == held
    first = central.get("/api/crossings?limit=30", role="viewer")
    rest = central.get(f"/api/crossings?limit=30&before={first['next']}", role="viewer")
    assert len(first["items"]) + len(rest["items"]) == 40 and rest["next"] is None

    crossing = held[0]
    assert "crop_jpeg" not in crossing and crossing["crop_url"].endswith(crossing["crop"])
    token = central.token("viewer")
    status, kind, jpeg = fetch(central.url + crossing["crop_url"], token)
    assert (status, kind) == (200, "image/jpeg") and jpeg[:2] == b"\xff\xd8"
    assert jpeg == crop_jpeg(19)
    assert fetch(central.url + crossing["crop_url"])[0] == 401  # anonymous
    enterprise = central.token("enterprise", "0101234567")
    assert fetch(central.url + crossing["crop_url"], enterprise)[0] == 403
    assert fetch(central.url + "/api/crops/" + "0" * 64, token)[0] == 404
    assert fetch(central.url + "/api/crops/not-a-hash", token)[0] == 400
    assert central.send("GET", "/api/crossings?held=true", None, role=None)[0] == 401
    code, body = central.send("GET", "/api/crossings?decision=maybe", None, role="viewer")
    assert code == 400, body

    decisions = central.get("/api/events?kind=lane_decision&limit=5", role="viewer")["items"]
    assert decisions[0]["crop_url"] == page["items"][0]["crop_url"]
    assert all("crop_jpeg" not in e for e in decisions)
    one = central.get(f"/api/crossings/{crossing['id']}", role="viewer")
    assert one == crossing
    schema = central.get("/schema/openapi.json", role=None)
    assert "Crossing" in schema["components"]["schemas"]
    assert "/api/crops/{digest}" in schema["paths"]


def test_a_query_past_its_budget_is_a_clear_503_not_a_500(
    tmp_path: Path,
    mosquitto: Mosquitto,
    processes: list[Proc],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    central = Central(tmp_path, mosquitto.port)
    processes.append(central)
    store = CentralStore(central.db, synchronous="OFF")  # type: ignore[arg-type]
    box = Box(store)
    for first in range(0, 30_000, 500):
        box.send(
            [
                LaneDecision(
                    at=T0 + timedelta(seconds=i),
                    checkpoint="barrier-in",
                    plate="12C-345.67",
                    decision="open",
                )
                for i in range(first, first + 500)
            ]
        )
    store.close()
    monkeypatch.setenv("CUAKHAU_CENTRAL_READ_BUDGET_MS", "1")
    central.start()
    # no checkpoint is indexed: this one walks every crossing, far past 1 ms
    code, body = central.send("GET", "/api/crossings?checkpoint=nowhere", None, role="viewer")
    assert code == 503, body
    assert "time budget of 1 ms" in body["detail"] and "narrow it" in body["detail"]
    assert "read over budget stopped query=/api/crossings?checkpoint=nowhere" in central.output()
    assert "Traceback" not in central.output()
    assert central.send("GET", "/api/crossings?limit=1", None, role="viewer")[0] in (200, 503)


def test_a_hold_leaves_the_lane_when_its_lane_decides_again_even_if_it_arrives_late(
    store: CentralStore,
) -> None:
    box = Box(store)
    box.truck(0, "29H-111.11", hold=True)  # lane barrier-in holds it
    box.truck(1, "29H-222.22", hold=True, checkpoint="barrier-out")
    assert [c.plate for c in store.crossings.list(at_lane=True)[0]] == [
        "29H-222.22",
        "29H-111.11",
    ]
    box.truck(2, "29H-111.11")  # it came back at barrier-in, and opened
    at_lane = store.crossings.list(at_lane=True)[0]
    assert [c.plate for c in at_lane] == ["29H-222.22"]  # the other lane still holds its truck
    first = store.crossings.list(plate="29H-111.11")[0][-1]
    assert first.held and first.moved_on is not None  # still not opened by anyone: held
    # a hold that reaches central after its lane's next decision (a gap filled late)
    late = Box(store, "b2")
    events = late.number(truck_events(T0, "51D-333.33", hold=True))
    later = late.number(truck_events(T0 + timedelta(minutes=1), "51D-444.44"))
    store.ingest("b2", later)
    store.ingest("b2", events)
    assert "51D-333.33" not in [c.plate for c in store.crossings.list(at_lane=True)[0]]
