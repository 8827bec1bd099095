"""The real photographs with hand-drawn plate boxes in ``../shared/datasets``, as the benches
read them: which sets, their rows, and the overlap of two boxes."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

#: set -> (folder, the rows to measure: None = every row, or a split name)
SETS: dict[str, tuple[str, str | None]] = {
    "ro_dashcam_valid": ("frames-ro-dashcam-dev", "valid"),
    "ro_dashcam_all": ("frames-ro-dashcam-dev", None),
    "vn_frames": ("frames-vn-dev", None),
    "us_fixed_measure_only": ("frames-us-measure", None),
}

Box = tuple[int, int, int, int]


def iou(a: Box, b: Box) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def load(folder: Path, split: str | None) -> dict[str, list[tuple[Box, str | None]]]:
    frames: dict[str, list[tuple[Box, str | None]]] = defaultdict(list)
    with (folder / "boxes.csv").open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            if split is not None and row.get("split") != split:
                continue
            box = (int(row["x1"]), int(row["y1"]), int(row["x2"]), int(row["y2"]))
            frames[row["file"]].append((box, row.get("text") or None))
    return frames
