"""Finding plates in a full frame with the OpenVINO detector (CenterNet-style outputs)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: a 1280x720 frame (or a lane's region) is seen at half size: a plate 60 px wide in the frame
#: is 30 px wide here, 7-8 output cells
INPUT_W, INPUT_H = 640, 368
STRIDE = 4


def letterbox(
    rgb: np.ndarray, size: tuple[int, int] = (INPUT_W, INPUT_H)
) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Fit a frame into the detector's input (``size``: width, height), keeping its aspect and
    never enlarging it (a smaller frame or region is padded); (image, scale, (pad x, pad y))."""
    h, w = rgb.shape[:2]
    in_w, in_h = size
    scale = min(in_w / w, in_h / h, 1.0)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    out = np.zeros((in_h, in_w, 3), np.uint8)
    px, py = (in_w - nw) // 2, (in_h - nh) // 2
    out[py : py + nh, px : px + nw] = resized
    return out, scale, (px, py)


def detector_input(images: np.ndarray) -> np.ndarray:
    """N x H x W x 3 uint8 -> N x 3 x H x W float32 in [0, 1]."""
    return images.astype(np.float32).transpose(0, 3, 1, 2) / 255.0


@dataclass(frozen=True)
class Detection:
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 in frame pixels
    score: float


def decode(
    output: np.ndarray,
    scale: float,
    pad: tuple[int, int],
    frame_w: int,
    frame_h: int,
    threshold: float = 0.3,
    max_plates: int = 8,
) -> list[Detection]:
    """Peaks of the heatmap (3x3 local maxima above ``threshold``) to boxes in the frame, the
    surest first; a box mostly inside a surer one (a second peak on one plate: the two lines of
    a motorbike plate, its edge cut by the frame) is the same plate and is dropped."""
    heat = np.ascontiguousarray(output[0], np.float32)
    peaks = (heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8))) & (heat >= threshold)
    ys, xs = np.nonzero(peaks)
    order = np.argsort(-heat[ys, xs])[: max_plates * 4]
    found: list[Detection] = []
    for i in order:
        if len(found) == max_plates:
            break
        y, x = ys[i], xs[i]
        w = float(np.exp(output[1, y, x])) * STRIDE
        h = float(np.exp(output[2, y, x])) * STRIDE
        cx = (x + float(output[3, y, x])) * STRIDE
        cy = (y + float(output[4, y, x])) * STRIDE
        x1 = (cx - w / 2 - pad[0]) / scale
        y1 = (cy - h / 2 - pad[1]) / scale
        x2 = (cx + w / 2 - pad[0]) / scale
        y2 = (cy + h / 2 - pad[1]) / scale
        box = (
            max(0, int(x1)),
            max(0, int(y1)),
            min(frame_w, int(np.ceil(x2))),
            min(frame_h, int(np.ceil(y2))),
        )
        if (
            box[2] - box[0] >= 4
            and box[3] - box[1] >= 3
            and not any(_mostly_inside(box, d.box) for d in found)
        ):
            found.append(Detection(box, float(heat[y, x])))
    return found


def _mostly_inside(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether half or more of the smaller of two boxes lies inside the other."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy >= 0.5 * smaller
