"""The plate detector on real photographs: per real set in ../shared/datasets (the parts it
never learnt from), detection recall at IoU >= 0.5, false boxes per frame, and, where plate
texts exist, end-to-end exact reading of the legible plates. Prints one JSON line.

    python bench/anpr_real.py [--datasets ../shared/datasets] [--reader auto|float|int8]
                              [--models DIR] [--dump DIR]

A detection is a false box when it overlaps no drawn plate (IoU < 0.1): the sets box only the
plates someone drew, so a box on an undrawn plate counts against the detector here (look at the
images with --dump before reading too much into false boxes). Plates a person has confirmed
among the detector's boxes off the drawn ones are listed in
``bench/real_frames_undrawn_plates.tsv``: a box on one is no false box. ``--undrawn-sheets DIR``
writes contact sheets of the boxes still off every listed plate (found at ``--threshold``,
lower than a box's, to propose more) and ``candidates.tsv`` to pick them from.
``bench/anpr.py`` reports the same figures beside the synthetic ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge_agent.anpr.engine import PRECISIONS, Anpr
from testkit import ROOT
from testkit.real_frames import SETS, load, measure, on_a_plate, undrawn

PER_SHEET = 20


def undrawn_sheets(anpr: Anpr, root: Path, out: Path) -> int:
    """Contact sheets of every found box on no listed plate, numbered, and their rows."""
    import cv2
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    rows: list[str] = []
    tiles: list[np.ndarray] = []
    for real in SETS.values():
        listed = undrawn(real.folder)
        for name, truth in sorted(load(root / real.folder, real.split).items()):
            image = cv2.imread(str(root / real.folder / "images" / name))
            if image is None:
                continue
            for box, score in anpr.detect(np.ascontiguousarray(image[..., ::-1])):
                if on_a_plate(box, [t for t, _ in truth] + listed.get(name, [])):
                    continue
                x1, y1, x2, y2 = box
                mx, my = (x2 - x1) + 20, (y2 - y1) * 2 + 20
                view = image[max(0, y1 - my) : y2 + my, max(0, x1 - mx) : x2 + mx].copy()
                cv2.rectangle(
                    view,
                    (x1 - max(0, x1 - mx), y1 - max(0, y1 - my)),
                    (x2 - max(0, x1 - mx), y2 - max(0, y1 - my)),
                    (0, 220, 0),
                    1,
                )
                h, w = view.shape[:2]
                k = min(300 / w, 200 / h)
                tile = np.full((226, 310, 3), 255, np.uint8)
                small = cv2.resize(view, (max(1, int(w * k)), max(1, int(h * k))))
                tile[24 : 24 + small.shape[0], 5 : 5 + small.shape[1]] = small
                cv2.putText(tile, f"{len(rows)} ({score:.2f})", (5, 18), 0, 0.6, (0, 0, 255), 2)
                tiles.append(tile)
                rows.append(f"{len(rows)}\t{real.folder}\t{name}\t{x1},{y1},{x2},{y2}")
    for s in range(0, len(tiles), PER_SHEET):
        part = tiles[s : s + PER_SHEET]
        part += [np.full_like(tiles[0], 255)] * (-len(part) % 5)
        sheet = np.vstack([np.hstack(part[r : r + 5]) for r in range(0, len(part), 5)])
        cv2.imwrite(str(out / f"sheet{s // PER_SHEET:02d}.png"), sheet)
    (out / "candidates.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"{len(rows)} boxes on no listed plate: {out}", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--reader", choices=PRECISIONS, default="auto")
    parser.add_argument("--models", default=None, help="folder of the IRs (default: models/)")
    parser.add_argument("--dump", help="write each frame with drawn (red) and found (green) boxes")
    parser.add_argument("--undrawn-sheets", help="contact sheets of boxes on no listed plate")
    parser.add_argument("--threshold", type=float, default=None, help="the detector's threshold")
    args = parser.parse_args()
    root = Path(args.datasets)
    if not root.is_dir():
        print(f"no datasets at {root}", file=sys.stderr)
        return 2
    dump = Path(args.dump) if args.dump else None
    if dump is not None:
        dump.mkdir(parents=True, exist_ok=True)
    anpr = Anpr(args.models, precision=args.reader)
    if args.threshold is not None:
        anpr.detector_threshold = args.threshold
    if args.undrawn_sheets:
        return undrawn_sheets(anpr, root, Path(args.undrawn_sheets))
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
