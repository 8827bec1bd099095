"""The real photographs with hand-drawn plate boxes in ``../shared/datasets``, as the benches
read them: which sets, their rows (with plate texts where someone read them), the overlap of
two boxes, and the detector and the whole engine measured on a set."""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge_agent.anpr.engine import Anpr

BENCH = Path(__file__).resolve().parents[1] / "bench"


@dataclass(frozen=True)
class RealSet:
    folder: str
    #: the rows to measure: None = every row, or a split name
    split: str | None
    #: plate texts read by a person, for a set that has none (see the file's head for its bias)
    texts: Path | None = None


#: plates in the real sets that nobody drew a box on (a person's confirmation of the detector's
#: proposals; see the file's head): a box on one is neither a hit nor a false box
UNDRAWN = BENCH / "real_frames_undrawn_plates.tsv"

#: the sets the benches measure: none of them is learnt from (the detector learns from the RO
#: set's ``train`` split, ``models/recipes/detector_data.TRAIN_SETS``)
SETS: dict[str, RealSet] = {
    "ro_dashcam_valid": RealSet("frames-ro-dashcam-dev", "valid"),
    "vn_frames": RealSet("frames-vn-dev", None, BENCH / "vn_frames_plate_texts.tsv"),
    "us_fixed_measure_only": RealSet("frames-us-measure", None),
}

Box = tuple[int, int, int, int]


def iou(a: Box, b: Box) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def load(
    folder: Path, split: str | None, texts: Path | None = None
) -> dict[str, list[tuple[Box, str | None]]]:
    """Frame name -> its drawn plates: (box, text or None); ``texts`` (a file of lines
    ``file<TAB>x1,y1,x2,y2<TAB>text``, ``#`` comments) adds texts to the rows it names."""
    read: dict[tuple[str, Box], str] = {}
    if texts is not None:
        for line in texts.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            name, corners, said = line.split("\t")
            x1, y1, x2, y2 = (int(v) for v in corners.split(","))
            read[(name, (x1, y1, x2, y2))] = said.strip()
    frames: dict[str, list[tuple[Box, str | None]]] = defaultdict(list)
    with (folder / "boxes.csv").open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            if split is not None and row.get("split") != split:
                continue
            box = (int(row["x1"]), int(row["y1"]), int(row["x2"]), int(row["y2"]))
            text: str | None = read.get((row["file"], box)) or row.get("text") or None
            frames[row["file"]].append((box, text))
    return frames


def undrawn(folder: str, path: Path = UNDRAWN) -> dict[str, list[Box]]:
    """Frame name -> the boxes of plates in it that its set leaves undrawn."""
    found: dict[str, list[Box]] = defaultdict(list)
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        where, name, corners = line.split("\t")
        if where == folder:
            x1, y1, x2, y2 = (int(v) for v in corners.split(","))
            found[name].append((x1, y1, x2, y2))
    return found


def on_a_plate(box: Box, plates: list[Box]) -> bool:
    """Whether a found box lies on one of ``plates`` (IoU >= 0.1, or half of it inside one)."""
    return any(iou(box, p) >= 0.1 or _inside(box, p) >= 0.5 for p in plates)


def _inside(a: Box, b: Box) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / max(1, (a[2] - a[0]) * (a[3] - a[1]))


def legible(text: str | None) -> bool:
    return bool(text) and "?" not in (text or "")


def measure(
    anpr: Anpr, datasets: Path, real: RealSet, dump: Path | None = None
) -> dict[str, object]:
    """The detector's recall at IoU >= 0.5 and its boxes on no plate per frame (neither on a
    drawn one nor on one the set leaves undrawn, see ``on_a_plate``); the whole frame's time
    (the detector, then the reader on every box, median); where texts exist, the engine's exact
    reading of each legible plate (a reading of a box at IoU >= 0.3 with it)."""
    import cv2
    import numpy as np

    folder = datasets / real.folder
    frames = load(folder, real.split, real.texts)
    left_undrawn = undrawn(real.folder)
    plates = found = false_boxes = off_drawn = on_undrawn = texts = read_right = 0
    detect_ms: list[float] = []
    frame_ms: list[float] = []
    for name, truth in sorted(frames.items()):
        image = cv2.imread(str(folder / "images" / name))
        if image is None:
            continue
        rgb = np.ascontiguousarray(image[..., ::-1])
        started = time.perf_counter()
        boxes = [box for box, _score in anpr.detect(rgb)]  # the detector's own boxes
        detect_ms.append((time.perf_counter() - started) * 1000)
        plates += len(truth)
        for box, _ in truth:
            found += any(iou(box, b) >= 0.5 for b in boxes)
        off = [b for b in boxes if not on_a_plate(b, [t for t, _ in truth])]
        off_drawn += len(off)
        on_undrawn += sum(on_a_plate(b, left_undrawn.get(name, [])) for b in off)
        false_boxes += sum(not on_a_plate(b, left_undrawn.get(name, [])) for b in off)
        started = time.perf_counter()
        results = anpr.read_frame(rgb)
        frame_ms.append((time.perf_counter() - started) * 1000)
        for box, text in truth:
            if not legible(text):
                continue
            texts += 1
            near = [r for r in results if r.bbox is not None and iou(box, r.bbox) >= 0.3]
            read = {(r.plate.text if r.plate else r.raw) for r in near}
            read_right += (text or "").replace(" ", "").upper() in read
        if dump is not None:
            for box, _ in truth:
                cv2.rectangle(image, box[:2], box[2:], (0, 0, 255), 2)
            for b in boxes:
                cv2.rectangle(image, b[:2], b[2:], (0, 200, 0), 2)
            cv2.imwrite(str(dump / f"{real.folder}-{name}"), image)
    result: dict[str, object] = {
        "frames": len(detect_ms),
        "plates": plates,
        "recall_iou50": round(found / plates, 4) if plates else None,
        # on no plate, drawn or not
        "false_boxes_per_frame": round(false_boxes / len(detect_ms), 3) if detect_ms else None,
        # on plates the set leaves undrawn (``UNDRAWN``), and on no drawn plate at all
        "undrawn_plate_boxes_per_frame": round(on_undrawn / max(1, len(detect_ms)), 3),
        "off_drawn_boxes_per_frame": round(off_drawn / max(1, len(detect_ms)), 3),
        "detect_p50_ms": round(float(np.median(detect_ms)), 1) if detect_ms else None,
        # the whole frame: the detector, then the reader on every box it found
        "read_frame_p50_ms": round(float(np.median(frame_ms)), 1) if frame_ms else None,
    }
    if texts:
        result["legible_plates"] = texts
        result["exact_end_to_end"] = round(read_right / texts, 4)
    return result
