"""Central at scale: staff queries over millions of events, and the MQTT ingest rate into them.

Fills central's database in-process through ``CentralStore.ingest`` (as MQTT ingest stores each
batch; the fill alone runs with ``synchronous=OFF``): ``--events`` events (default 3,000,000)
from ``--boxes`` gate boxes at ``--gates`` gates, three per truck (plate read with its crop, lane
decision with the same crop, loop clear) and a manual override for half the held trucks; one
truck in 20 held, trucks spread over ``--days``, plates from a fleet that comes back, crops from
a pool of ``--crops`` distinct JPEGs. Then starts Mosquitto and central (its own process, as
deployed), and times each staff query over real HTTP with a viewer's token (``--reps`` each,
keep-alive, after a warm-up; ``HELD_LANES`` lanes hold a truck now): the held queue, the
newest crossings, a plate (either spelling), one gate's day; then the staff UI's pages as a
logged-in border guard's browser gets them (the held-truck console, a gate's picture,
declarations, a crossing). Last, a box
drains ``--ingest-events`` events (trucks with their own crops) through Mosquitto into that
database; the rate is from central's receive times. Prints one JSON line: events, crossings,
held_p95_ms, list_p95_ms, plate_p95_ms, range_p95_ms, ui_held_p95_ms, ui_gate_p95_ms,
ingest_events_per_s, cpu, and the other figures measured.

    python bench/central_api.py [--events 3000000] [--reps 300] [--ingest-events 150000]
    python bench/central_api.py --events 100000 --keep /tmp/c   # small, keeping the files
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from central.store import CentralStore
from protocol.messages import (
    Declaration,
    Event,
    LaneDecision,
    ManualOverride,
    PlateRead,
    Presence,
)
from testkit.crossings import START, Box, crop_jpeg, fill_outbox_trucks, plate_of
from testkit.mosquitto import Mosquitto
from testkit.outbox import fill_outbox
from testkit.processes import Agent, Central, agent_config

CHECKPOINTS = ("barrier-in", "barrier-out")
KINDS = ("plate_read", "lane_decision", "presence", "manual_override")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))], 1)


class Fill:
    """Trucks made up for the fill: which box, when, which plate, held or not."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.trucks = -(-args.events // 3)
        self.boxes = [f"g{b % args.gates:02d}-box{b // args.gates:02d}" for b in range(args.boxes)]
        self.gates = [f"G{g:02d}" for g in range(args.gates)]
        self.gate_of = {box: self.gates[b % args.gates] for b, box in enumerate(self.boxes)}
        self.step = timedelta(days=args.days) / self.trucks
        self.fleet = args.fleet
        self.crops = [crop_jpeg(i) for i in range(args.crops)]
        self.rng = random.Random(7)
        self.seq = dict.fromkeys(self.boxes, 0)

    def events(self, i: int) -> tuple[str, list[Event]]:
        box = self.boxes[i % len(self.boxes)]
        cp = CHECKPOINTS[i // len(self.boxes) % 2]
        at = START + self.step * i
        plate = plate_of(self.rng.randrange(self.fleet))
        crop = self.crops[i % len(self.crops)]
        hold = i % 20 == 7
        declaration = None if hold and i % 40 == 7 else f"20261{i:08d}"
        seq = self.seq[box]
        out: list[Event] = [
            PlateRead(
                seq=seq + 1,
                id=f"{box}-{seq + 1}",
                at=at,
                checkpoint=cp,
                plate=plate,
                country="VN",
                confidence=0.97,
                crop_jpeg=crop,
            ),
            LaneDecision(
                seq=seq + 2,
                id=f"{box}-{seq + 2}",
                at=at + timedelta(milliseconds=400),
                checkpoint=cp,
                plate=plate,
                decision="hold" if hold else "open",
                reasons=["declaration_missing"] if hold else [],
                declaration=declaration,
                weight_kg=24_500.0,
                crop_jpeg=crop,
            ),
        ]
        if hold and i % 40 == 27:
            out.append(
                ManualOverride(
                    seq=seq + 3,
                    id=f"{box}-{seq + 3}",
                    at=at + timedelta(seconds=30),
                    checkpoint=cp,
                    by="guard.le",
                    reason="papers checked",
                    plate=plate,
                )
            )
        n = seq + len(out) + 1
        out.append(
            Presence(
                seq=n, id=f"{box}-{n}", at=at + timedelta(seconds=40), checkpoint=cp, present=False
            )
        )
        self.seq[box] = n
        return box, out


def fill(db: Path, args: argparse.Namespace) -> dict[str, float]:
    made = Fill(args)
    store = CentralStore(db, synchronous="NORMAL")
    store.file.conn.execute("PRAGMA synchronous=OFF")  # the fill only; central runs FULL
    for box, gate in made.gate_of.items():
        store.note_gate(box, gate)
    stored = 0
    started = time.perf_counter()
    ingest_s = 0.0
    chunk = 20_000
    for first in range(0, made.trucks, chunk):
        per_box: dict[str, list[Event]] = {}
        for i in range(first, min(made.trucks, first + chunk)):
            box, events = made.events(i)
            per_box.setdefault(box, []).extend(events)
        t = time.perf_counter()
        for box, events in per_box.items():
            for b in range(0, len(events), 500):
                stored += store.ingest(box, events[b : b + 500]).stored
        ingest_s += time.perf_counter() - t
        print(f"  filled {stored:,} events", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    store.file.conn.execute("PRAGMA optimize")
    store.close()
    return {
        "fill_s": round(time.perf_counter() - started, 1),
        "fill_ingest_events_per_s": round(stored / ingest_s),
    }


#: Lanes holding a truck now (one box, one checkpoint each), so the held console has cards.
HELD_LANES = 50


def hold_lanes(db: Path, at: datetime) -> None:
    """``HELD_LANES`` lanes of gate G00 holding a declared truck now, with its crop (the fill's
    own held trucks have almost all been followed by another decision at their lane)."""
    store = CentralStore(db, synchronous="NORMAL")
    try:
        box = Box(store, "bench-held-lanes", "G00", start=at)
        for i in range(HELD_LANES):
            number = f"{at:%Y%m%d}{90_000 + i:05d}"
            plate = plate_of(5_000_000 + i)
            store.put_declaration(
                Declaration(
                    number=number,
                    direction="import",
                    gate="G00",
                    plate=plate,
                    nationality="VN",
                    declared_weight_kg=24_000,
                    status="accepted",
                ),
                must_exist=None,
            )
            box.truck(
                i / 60,
                plate,
                hold=True,
                declaration=number,
                checkpoint=f"lane-{i:02d}",
                crop=crop_jpeg(3_000_000 + i),
            )
    finally:
        store.close()


def counts(db: Path) -> tuple[int, int, int, str, str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        crossings = conn.execute("SELECT count(*) FROM crossings").fetchone()[0]
        held = conn.execute(
            "SELECT count(*) FROM crossings WHERE decision = 'hold' AND overridden_at IS NULL"
        ).fetchone()[0]
        first, last = conn.execute("SELECT min(at), max(at) FROM crossings").fetchone()
    finally:
        conn.close()
    return int(events), int(crossings), int(held), str(first), str(last)


class Client:
    """Keep-alive HTTP to central with a Bearer token (or a login's headers); times each GET."""

    def __init__(self, port: int, token: str | None, headers: dict[str, str] | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = headers or {"Authorization": f"Bearer {token}"}

    def get(self, path: str) -> tuple[float, int, dict[str, object]]:
        t = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        raw = response.read()
        ms = (time.perf_counter() - t) * 1000
        if response.getheader("Content-Type", "").startswith("text/html"):
            # a staff page: its rows are what it shows (held cards, table rows)
            html = raw.decode()
            rows = html.count('<article class="card"') + html.count("<tr")
            return ms, response.status, {"items": [None] * rows}
        return ms, response.status, json.loads(raw)


def time_queries(
    client: Client, reps: int, queries: dict[str, Callable[[random.Random], str]]
) -> dict[str, object]:
    rng = random.Random(11)
    out: dict[str, object] = {}
    for name, make in queries.items():
        for _ in range(max(5, reps // 10)):  # warm-up
            client.get(make(rng))
        times: list[float] = []
        items = 0
        for _ in range(reps):
            path = make(rng)
            ms, status, body = client.get(path)
            if status != 200:
                raise SystemExit(f"{path}: {status} {body}")
            times.append(ms)
            items += len(body["items"])  # type: ignore[arg-type]
        out[f"{name}_p50_ms"] = pct(times, 50)
        out[f"{name}_p95_ms"] = pct(times, 95)
        out[f"{name}_items_avg"] = round(items / reps, 1)
        print(f"  {name}: p50 {pct(times, 50)} ms, p95 {pct(times, 95)} ms", file=sys.stderr)
    return out


def drain(
    work: Path,
    central: Central,
    broker: Mosquitto,
    n_events: int,
    start: datetime,
    *,
    plain: bool = False,
) -> float:
    """A box's backlog through Mosquitto into central; events per second. Trucks with their
    crops, or (``plain``) weight readings as ``bench/sync.py`` sends them."""
    device = "bench-plain" if plain else "bench-ingest"
    if plain:
        made = len(fill_outbox(work / f"{device}.db", n_events))
    else:
        made = fill_outbox_trucks(
            work / f"{device}.db", -(-n_events // 3), start=start, first=2_000_000
        )
    agent = Agent(work, agent_config(work, device, broker.port, gate="G00"))
    agent.start()
    try:
        deadline = time.monotonic() + 900
        while central.acked(device) < made and time.monotonic() < deadline:
            time.sleep(0.5)
            print(f"  drained {central.acked(device):,}/{made:,}", file=sys.stderr, end="\r")
        print(file=sys.stderr)
    finally:
        agent.stop()
    conn = sqlite3.connect(f"file:{central.db}?mode=ro", uri=True)
    try:
        first, last, got = conn.execute(
            "SELECT min(received_at), max(received_at), count(*) FROM events WHERE device = ?",
            (device,),
        ).fetchone()
    finally:
        conn.close()
    seconds = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    if got < made:
        raise SystemExit(f"only {got} of {made} events reached central")
    return round(got / seconds) if seconds else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--boxes", type=int, default=60)
    parser.add_argument("--gates", type=int, default=12)
    parser.add_argument("--days", type=float, default=90)
    parser.add_argument("--fleet", type=int, default=100_000, help="distinct plates")
    parser.add_argument("--crops", type=int, default=20_000, help="distinct crops in the fill")
    parser.add_argument("--reps", type=int, default=300, help="requests per query")
    parser.add_argument("--ingest-events", type=int, default=150_000, help="trucks' events")
    parser.add_argument("--plain-events", type=int, default=150_000, help="weight readings")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--reuse", action="store_true", help="use --keep's filled database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cuakhau-central-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        db = work / "central.db"
        result: dict[str, object] = {}
        if not args.reuse:
            for stale in work.glob("*"):
                if stale.is_file():
                    stale.unlink()
            print(f"filling central's database with {args.events:,} events...", file=sys.stderr)
            result |= fill(db, args)
        if not args.reuse:
            hold_lanes(db, datetime.now(UTC) - timedelta(minutes=30))
        events, crossings, held, first, last = counts(db)
        start, end = datetime.fromisoformat(first), datetime.fromisoformat(last)
        days = max(1, (end - start).days)
        gates = [f"G{g:02d}" for g in range(args.gates)]
        fleet = args.fleet

        def day(rng: random.Random) -> str:
            since = start + timedelta(days=rng.randrange(days))
            return urlencode(
                {"since": since.isoformat(), "until": (since + timedelta(1)).isoformat()}
            )

        def plate(rng: random.Random) -> str:
            text = plate_of(rng.randrange(fleet))
            return text if rng.random() < 0.5 else text.replace("-", "").replace(".", "")

        queries: dict[str, Callable[[random.Random], str]] = {
            "held": lambda rng: "/api/crossings?held=true&limit=100",
            "list": lambda rng: "/api/crossings?limit=100",
            "plate": lambda rng: f"/api/crossings?plate={plate(rng)}&limit=100",
            "range": lambda rng: f"/api/crossings?gate={rng.choice(gates)}&{day(rng)}&limit=100",
            "declaration": lambda rng: (
                f"/api/crossings?declaration=20261{rng.randrange(events // 3):08d}"
            ),
            "events_kind": lambda rng: f"/api/events?kind={rng.choice(KINDS)}&limit=100",
            "events_range": lambda rng: f"/api/events?{day(rng)}&limit=100",
        }
        #: the staff UI: the whole page as the browser gets it (server time plus loopback)
        pages: dict[str, Callable[[random.Random], str]] = {
            "ui_held": lambda rng: "/ui/held",
            "ui_held_gate": lambda rng: f"/ui/held?gate={rng.choice(gates)}",
            "ui_gate": lambda rng: f"/ui/gate?gate={rng.choice(gates)}",
            "ui_declarations": lambda rng: "/ui/declarations",
            "ui_crossing": lambda rng: f"/ui/crossings/{rng.randrange(1, crossings)}",
        }
        (work / "broker").mkdir(exist_ok=True)
        broker = Mosquitto(work / "broker")
        broker.start()
        central = Central(work, broker.port)
        try:
            central.start()
            client = Client(central.http_port, central.token("viewer"))
            print(f"timing queries over {events:,} events...", file=sys.stderr)
            timed = time_queries(client, args.reps, queries)
            client.conn.close()
            print("timing the staff UI's pages (a border guard logged in)...", file=sys.stderr)
            staff = Client(
                central.http_port, None, central.login(f"guard.{time.time_ns()}", "border_guard")
            )
            timed |= time_queries(staff, max(20, args.reps // 5), pages)
            staff.conn.close()
            print(f"draining {args.ingest_events:,} events over MQTT...", file=sys.stderr)
            rate = drain(work, central, broker, args.ingest_events, end + timedelta(days=1))
            print(f"draining {args.plain_events:,} weight readings over MQTT...", file=sys.stderr)
            plain = drain(work, central, broker, args.plain_events, end, plain=True)
        finally:
            central.stop()
            broker.stop()
        line = {
            "events": events,
            "crossings": crossings,
            "held_now": held,
            "held_p95_ms": timed["held_p95_ms"],
            "list_p95_ms": timed["list_p95_ms"],
            "plate_p95_ms": timed["plate_p95_ms"],
            "range_p95_ms": timed["range_p95_ms"],
            "ui_held_p95_ms": timed["ui_held_p95_ms"],
            "ui_gate_p95_ms": timed["ui_gate_p95_ms"],
            "ingest_events_per_s": rate,
            "ingest_plain_events_per_s": plain,
            "cpu": cpu_model(),
            **result,
            "details": timed,
        }
        print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
