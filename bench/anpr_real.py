"""The plate detector on real photographs: per real set in ../shared/datasets, detection recall
at IoU >= 0.5 and false boxes per frame (and, where plate texts exist, end-to-end exact
reading). Prints one JSON line.

    python bench/anpr_real.py [--datasets ../shared/datasets] [--reader auto|float|int8]

A detection is a false box when it overlaps no drawn plate (IoU < 0.1): the sets box only the
plates someone drew, so a box on an undrawn plate counts against the detector here (look at the
images with --dump before reading too much into false boxes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from edge_agent.anpr.engine import PRECISIONS, Anpr
from testkit import ROOT
from testkit.real_frames import SETS, iou, load


def measure(anpr: Anpr, folder: Path, split: str | None, dump: Path | None) -> dict[str, object]:
    frames = load(folder, split)
    plates = found = false_boxes = texts = read_right = 0
    times: list[float] = []
    for name, truth in sorted(frames.items()):
        image = cv2.imread(str(folder / "images" / name))
        if image is None:
            continue
        rgb = np.ascontiguousarray(image[..., ::-1])
        started = time.perf_counter()
        boxes = [box for box, _score in anpr.detect(rgb)]  # the detector's own boxes
        times.append((time.perf_counter() - started) * 1000)
        results = anpr.read_frame(rgb) if any(t for _, t in truth) else []
        plates += len(truth)
        for box, text in truth:
            found += any(iou(box, b) >= 0.5 for b in boxes)
            if text:
                texts += 1
                near = [r for r in results if r.bbox is not None and iou(box, r.bbox) >= 0.3]
                read = {(r.plate.text if r.plate else r.raw) for r in near}
                read_right += text.replace(" ", "").upper() in read
        false_boxes += sum(1 for b in boxes if all(iou(b, t) < 0.1 for t, _ in truth))
        if dump is not None:
            for box, _ in truth:
                cv2.rectangle(image, box[:2], box[2:], (0, 0, 255), 2)
            for b in boxes:
                cv2.rectangle(image, b[:2], b[2:], (0, 200, 0), 2)
            cv2.imwrite(str(dump / f"{folder.name}-{name}"), image)
    result: dict[str, object] = {
        "frames": len(times),
        "plates": plates,
        "recall_iou50": round(found / plates, 4) if plates else None,
        "false_boxes_per_frame": round(false_boxes / len(times), 3) if times else None,
        "detect_p50_ms": round(float(np.median(times)), 1) if times else None,
    }
    if texts:
        result["exact_end_to_end"] = round(read_right / texts, 4)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--reader", choices=("auto", *PRECISIONS), default="auto")
    parser.add_argument("--dump", help="write each frame with drawn (red) and found (green) boxes")
    args = parser.parse_args()
    root = Path(args.datasets)
    if not root.is_dir():
        print(f"no datasets at {root}", file=sys.stderr)
        return 2
    dump = Path(args.dump) if args.dump else None
    if dump is not None:
        dump.mkdir(parents=True, exist_ok=True)
    anpr = Anpr(precision=args.reader)
    out: dict[str, object] = {"reader": anpr.precision}
    for name, (folder, split) in SETS.items():
        if (root / folder / "boxes.csv").exists():
            out[name] = measure(anpr, root / folder, split, dump)
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
