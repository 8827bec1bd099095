"""The plate detector on real photographs: per real set in ../shared/datasets (the parts it
never learnt from), detection recall at IoU >= 0.5, false boxes per frame, and, where plate
texts exist, end-to-end exact reading of the legible plates. Prints one JSON line.

    python bench/anpr_real.py [--datasets ../shared/datasets] [--reader auto|float|int8]
                              [--models DIR] [--dump DIR]

A detection is a false box when it overlaps no drawn plate (IoU < 0.1): the sets box only the
plates someone drew, so a box on an undrawn plate counts against the detector here (look at the
images with --dump before reading too much into false boxes). ``bench/anpr.py`` reports the
same figures beside the synthetic ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge_agent.anpr.engine import PRECISIONS, Anpr
from testkit import ROOT
from testkit.real_frames import SETS, measure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--reader", choices=PRECISIONS, default="auto")
    parser.add_argument("--models", default=None, help="folder of the IRs (default: models/)")
    parser.add_argument("--dump", help="write each frame with drawn (red) and found (green) boxes")
    args = parser.parse_args()
    root = Path(args.datasets)
    if not root.is_dir():
        print(f"no datasets at {root}", file=sys.stderr)
        return 2
    dump = Path(args.dump) if args.dump else None
    if dump is not None:
        dump.mkdir(parents=True, exist_ok=True)
    anpr = Anpr(args.models, precision=args.reader)
    out: dict[str, object] = {"reader": anpr.precision}
    for name, real in SETS.items():
        if (root / real.folder / "boxes.csv").exists():
            out[name] = measure(anpr, root, real, dump)
            print(f"{name}: {out[name]}", file=sys.stderr)
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    out["cpu"] = cpu
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
