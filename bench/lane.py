"""Lane benchmark: loop-on -> open-command latency and decision correctness over many trucks.

Real Mosquitto, central, a box process with its lane on the simulated camera (MJPEG), weighbridge
and barrier board (ptys), ANPR and policy; trucks drawn from the shipped scenarios' mix, repeated
to ``--trucks``. Prints one JSON line ``{"trucks", "p50_ms", "p95_ms", "correct_ratio", ...}``.

    python bench/lane.py [--trucks 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import msgspec

from simulators.scenario import ScenarioRun, load_scenario
from testkit import ROOT
from testkit.mosquitto import Mosquitto
from testkit.processes import Central


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))], 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trucks", type=int, default=200)
    args = parser.parse_args()
    base = load_scenario(ROOT / "simulators" / "scenarios" / "huu-nghi-morning.toml")
    trucks = [base.trucks[i % len(base.trucks)] for i in range(args.trucks)]
    with tempfile.TemporaryDirectory(prefix="cuakhau-lane-bench-") as tmp:
        work = Path(tmp)
        (work / "broker").mkdir()
        broker = Mosquitto(work / "broker")
        broker.start()
        central = Central(work, broker.port)
        run = None
        try:
            central.start()
            # the base scenario's trucks are declared once; the same plates come back (as at a
            # real gate) for the repeated run
            run = ScenarioRun(
                base,
                central_url=central.url,
                token=central.token("admin"),
                mqtt_port=broker.port,
                workdir=work,
                log=lambda m: print(m, file=sys.stderr),
            )
            run.start()
            run.scenario = msgspec.structs.replace(base, name=f"bench {args.trucks}", trucks=trucks)
            report = run.run()
        finally:
            if run is not None:
                run.stop()
            central.stop()
            broker.stop()
    latencies = [o.open_latency_ms for o in report.outcomes if o.open_latency_ms is not None]
    print(
        json.dumps(
            {
                "trucks": len(report.outcomes),
                "opened": len(latencies),
                "p50_ms": pct(latencies, 50) if latencies else None,
                "p95_ms": pct(latencies, 95) if latencies else None,
                "max_ms": round(max(latencies), 1) if latencies else None,
                "correct_ratio": round(report.correct / max(1, len(report.outcomes)), 4),
                "closes_while_occupied": report.closes_while_occupied,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
