"""The gate under faults: ``testkit.chaos.Chaos`` with a seed, printing one JSON line.

Real Mosquitto, central and gate boxes (lanes on simulated camera, weighbridge and barrier,
plus a steady stream of made-up events), each box in its own network namespace; a seeded
schedule of kills, stops, partitions, loss, latency, flapping links, serial garbage, a silent
barrier board and a full disk, one at a time, while trucks keep coming. Then everything heals,
the backlogs drain, and what every box committed is compared with what central stored.

    python bench/chaos.py --seed 7 [--boxes 2] [--minutes 4] [--rate 40]

Needs root (network namespaces, tc, tmpfs mounts). Prints {"seed", "events", "decisions",
"lost", "duplicated", "unsafe_commands", "crashes", "drain_after_heal_s",
"resume_after_heal_s_max", ...}; exits 1 unless lost, duplicated, unsafe and crashes are all 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from testkit.chaos import FAULTS, Chaos


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--boxes", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=4.0, help="how long faults go on")
    parser.add_argument("--rate", type=float, default=40.0, help="made-up events/s per box")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument(
        "--faults", default=",".join(FAULTS), help=f"which faults (default all: {','.join(FAULTS)})"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cuakhau-chaos-") as tmp:
        work = args.keep or Path(tmp)
        chaos = Chaos(
            work,
            seed=args.seed,
            boxes=args.boxes,
            seconds=args.minutes * 60,
            event_rate=args.rate,
            kinds=[k.strip() for k in args.faults.split(",") if k.strip()],
            log=lambda line: print(line, file=sys.stderr, flush=True),
        )
        try:
            figures = chaos.run()
        finally:
            chaos.close()
    print(json.dumps(figures))
    bad = figures["lost"] + figures["duplicated"] + figures["unsafe_commands"] + figures["crashes"]
    return 0 if bad == 0 and figures["drained"] else 1


if __name__ == "__main__":
    sys.exit(main())
