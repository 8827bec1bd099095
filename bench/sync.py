"""Sync benchmark: drain of an offline backlog, then steady-state latency, over real Mosquitto.

Starts Mosquitto on a free port, central as its own process, and a gate box whose outbox holds
N events made while offline; then measures how fast the backlog drains to central's database,
and, in a second phase at a fixed rate, the latency from an event's creation on the box to its
commit at central. Prints one JSON line.

    python bench/sync.py [--events N] [--rate TRUCKS_PER_S] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from edge_agent.store import EdgeStore
from testkit import wait_for
from testkit.mosquitto import Mosquitto
from testkit.outbox import fill_outbox
from testkit.processes import Agent, Central, agent_config
from testkit.secure_gate import SecureGate, grant


def _times(db: Path, device: str, after_seq: int) -> list[tuple[int, str, str]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return list(
            conn.execute(
                "SELECT seq, at, received_at FROM events WHERE device = ? AND seq > ? ORDER BY seq",
                (device, after_seq),
            )
        )
    finally:
        conn.close()


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument(
        "--rate", type=float, default=50.0, help="steady phase: trucks per second (3 events each)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="steady phase duration")
    parser.add_argument(
        "--secure",
        action="store_true",
        help="the production path: an enrolled box sealing its batches, over TLS, with the "
        "broker's password file and ACL, central requiring enrolment",
    )
    args = parser.parse_args()
    device = "bench-b1"
    with tempfile.TemporaryDirectory(prefix="cuakhau-bench-") as tmp:
        work = Path(tmp)
        secure = SecureGate(work) if args.secure else None
        if secure is None:
            broker_dir = work / "mosquitto"
            broker_dir.mkdir()
            broker = Mosquitto(broker_dir)
            central = Central(work, broker.port)
        else:
            broker, central = secure.mosquitto, secure.central
        broker.start()
        agent = None
        try:
            central.start()
            if secure is not None:
                box = work / "etc-box"
                enrolled = secure.enrol(box, secure.enrolment_token())
                if enrolled.returncode != 0:
                    raise RuntimeError(f"enrolment failed: {enrolled.stderr}")
                device = grant(box)["device"]
                config = box / "box.toml"
                store_path = box / "box.db"
            else:
                config = agent_config(work, device, broker.port, synthetic="")
                store_path = work / f"{device}.db"
            print(f"filling the outbox with {args.events} events...", file=sys.stderr)
            emitted = fill_outbox(store_path, args.events)
            n = len(emitted)
            trucks = int(args.rate * args.seconds)
            synthetic = (
                f"[synthetic]\nrate_per_s = {args.rate}\ncount = {trucks}\n" if trucks else ""
            )
            agent = Agent(work, config)
            agent.start()
            t0 = time.monotonic()
            last = -1
            while central.acked(device) < n:
                time.sleep(0.2)
                done = central.acked(device)
                if done != last:
                    print(f"  drained {done}/{n}", file=sys.stderr)
                    last = done
                if time.monotonic() - t0 > 600:
                    break
            drain_wall_s = time.monotonic() - t0
            rows = _times(central.db, device, 0)
            received = [datetime.fromisoformat(r[2]) for r in rows]
            drain_s = (max(received) - min(received)).total_seconds() if received else 0.0
            stored = central.stored_events(device)
            seqs = [s for s, _ in stored]
            ids = dict(emitted)
            lost = n - len({s for s in seqs if s in ids})
            devices = central.get("/api/devices")
            duplicates_ignored = sum(d["duplicates_ignored"] for d in devices)
            duplicates = len(seqs) - len(set(seqs))
            mismatched = sum(1 for s, i in stored if ids.get(s) != i)

            agent.stop()
            latencies: list[float] = []
            if trucks:
                if secure is not None:
                    config.write_text(config.read_text() + "\n" + synthetic, encoding="utf-8")
                else:
                    config = agent_config(work, device, broker.port, synthetic=synthetic)
                agent = Agent(work, config)
                agent.start()
                box_store = EdgeStore(store_path)
                target = n + 3 * trucks
                wait_for(
                    lambda: central.acked(device) >= target,
                    args.seconds * 3 + 60,
                    "the steady-state events",
                )
                box_store.close()
                for _, at, got in _times(central.db, device, n):
                    delta = datetime.fromisoformat(got) - datetime.fromisoformat(at)
                    latencies.append(delta.total_seconds() * 1000)
            result = {
                "secure": bool(args.secure),
                "events": n,
                "delivered": len(set(seqs)),
                "duplicates": duplicates + mismatched,
                "duplicates_ignored_by_central": duplicates_ignored,
                "lost": lost,
                "drain_s": round(drain_s, 3),
                "events_per_s": round(n / drain_s) if drain_s else None,
                # from starting the box's process (connect, session, first batch) to the last ack
                "drain_wall_s": round(drain_wall_s, 3),
                "steady_events": len(latencies),
                "p50_latency_ms": round(_percentile(latencies, 50), 1) if latencies else None,
                "p95_latency_ms": round(_percentile(latencies, 95), 1) if latencies else None,
            }
            print(json.dumps(result))
        finally:
            if agent is not None:
                agent.stop()
            central.stop()
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
