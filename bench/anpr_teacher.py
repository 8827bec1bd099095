"""A pretrained text detector as a plate finder on the real photographs: how many drawn plates a
text box finds, how many text boxes a frame has, and how long it takes, on OpenVINO on the CPU.

The detector is PP-OCRv6's small text detector shipped inside the ``rapidocr`` wheel
(Apache-2.0; ``pip install -e .[train]`` installs it): a candidate teacher for pseudo-labels on
real frames, or a first pass inside a lane's region. A plate counts as found when a text box
overlaps it at IoU >= 0.5, or (``covered``) when a text box not four times larger holds its
centre (a two-line plate is two text lines). Prints one JSON line.

    python bench/anpr_teacher.py [--datasets ../shared/datasets] [--side 960]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import openvino as ov

from edge_agent.anpr.engine import Anpr
from testkit import ROOT
from testkit.real_frames import SETS, Box, iou, load

#: DB post-processing, as the detector's own configuration sets it
THRESH = 0.3
BOX_THRESH = 0.5
UNCLIP = 1.6


def model_path() -> Path:
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise SystemExit("the rapidocr wheel is not installed: pip install -e .[train]")
    return Path(spec.origin).parent / "models" / "PP-OCRv6_det_small.onnx"


class TextDetector:
    def __init__(self, path: Path, side: int) -> None:
        core = ov.Core()
        self.model = core.compile_model(
            core.read_model(path), "CPU", {"PERFORMANCE_HINT": "LATENCY"}
        )
        self.side = side

    def boxes(self, rgb: np.ndarray) -> list[Box]:
        h, w = rgb.shape[:2]
        scale = self.side / max(h, w)
        nh = max(32, round(h * scale / 32) * 32)
        nw = max(32, round(w * scale / 32) * 32)
        image = (cv2.resize(rgb, (nw, nh)).astype(np.float32) / 255.0 - 0.5) / 0.5
        prob = self.model(image.transpose(2, 0, 1)[None])[0][0, 0]
        mask = cv2.dilate((prob > THRESH).astype(np.uint8), np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        out: list[Box] = []
        for contour in contours:
            x, y, bw, bh = cv2.boundingRect(contour)
            if bw < 3 or bh < 3:
                continue
            region = prob[y : y + bh, x : x + bw][mask[y : y + bh, x : x + bw] > 0]
            if float(region.mean()) < BOX_THRESH:
                continue
            d = bw * bh * UNCLIP / (2 * (bw + bh))  # DB's unclip distance
            sx, sy = w / nw, h / nh
            out.append(
                (
                    int((x - d) * sx),
                    int((y - d) * sy),
                    int((x + bw + d) * sx),
                    int((y + bh + d) * sy),
                )
            )
        return out


def stacked(boxes: list[Box]) -> list[Box]:
    """Each text box, and each pair of lines stacked like a two-line plate's (one above the
    other, overlapping across, of like width, close) as one box."""
    out = list(boxes)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            top, low = (a, b) if a[1] <= b[1] else (b, a)
            across = min(top[2], low[2]) - max(top[0], low[0])
            widths = (top[2] - top[0], low[2] - low[0])
            gap = low[1] - top[3]
            height = top[3] - top[1]
            if across > 0.5 * min(widths) and max(widths) < 2 * min(widths) and gap < height:
                out.append((min(a[0], b[0]), top[1], max(a[2], b[2]), low[3]))
    return out


def verified(anpr: Anpr, rgb: np.ndarray, boxes: list[Box], min_conf: float) -> list[Box]:
    """The candidates our reader reads as a plate: a known format, or a sure reading of four
    characters or more (a plate of a country the normaliser does not know)."""
    h, w = rgb.shape[:2]
    crops, kept = [], []
    for x1, y1, x2, y2 in boxes:
        x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
        if x2 - x1 >= 16 and y2 - y1 >= 8:
            crops.append(rgb[y1:y2, x1:x2])
            kept.append((x1, y1, x2, y2))
    reads = anpr.read_crops(crops) if crops else []
    plates = [
        (r.confidence, box)
        for r, box in zip(reads, kept, strict=True)
        if r.plate is not None or (r.confidence >= min_conf and len(r.raw) >= 4)
    ]
    # one box per plate: the surest first, then those overlapping none kept
    out: list[Box] = []
    for _conf, box in sorted(plates, reverse=True):
        if all(iou(box, o) < 0.3 for o in out):
            out.append(box)
    return out


def covered(plate: Box, text: Box) -> bool:
    cx, cy = (plate[0] + plate[2]) / 2, (plate[1] + plate[3]) / 2
    inside = text[0] <= cx <= text[2] and text[1] <= cy <= text[3]
    plate_area = (plate[2] - plate[0]) * (plate[3] - plate[1])
    text_area = (text[2] - text[0]) * (text[3] - text[1])
    return inside and text_area <= 4 * plate_area


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--side", type=int, default=960, help="the frame's longer side, resized")
    parser.add_argument(
        "--verify",
        type=float,
        default=None,
        metavar="CONF",
        help="keep only the candidates (text lines, and stacked pairs of them) our reader reads"
        " as a plate, or reads surely (>= CONF) as 4+ characters; false boxes are then counted",
    )
    args = parser.parse_args()
    detector = TextDetector(model_path(), args.side)
    anpr = Anpr() if args.verify is not None else None
    result: dict[str, object] = {"side": args.side, "verify": args.verify}
    for name, real in SETS.items():
        folder = real.folder
        frames = load(args.datasets / folder, real.split)
        plates = by_iou = by_cover = boxes = false = 0
        times: list[float] = []
        for file, drawn in frames.items():
            bgr = cv2.imread(str(args.datasets / folder / "images" / file))
            if bgr is None:
                continue
            started = time.perf_counter()
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            found = detector.boxes(rgb)
            if anpr is not None and args.verify is not None:
                found = verified(anpr, rgb, stacked(found), args.verify)
            times.append((time.perf_counter() - started) * 1000)
            boxes += len(found)
            false += sum(1 for b in found if all(iou(b, p) < 0.1 for p, _t in drawn))
            for plate, _text in drawn:
                plates += 1
                by_iou += any(iou(plate, b) >= 0.5 for b in found)
                by_cover += any(covered(plate, b) for b in found)
        result[name] = {
            "plates": plates,
            "recall_iou50": round(by_iou / max(1, plates), 3),
            "recall_covered": round(by_cover / max(1, plates), 3),
            "boxes_per_frame": round(boxes / max(1, len(frames)), 2),
            "false_boxes_per_frame": round(false / max(1, len(frames)), 2),
            "frame_ms_p50": round(float(np.median(times)), 1) if times else None,
        }
        print(name, result[name], file=sys.stderr, flush=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
