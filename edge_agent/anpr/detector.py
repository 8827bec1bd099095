"""Finding plates in a full frame with the OpenVINO detector (CenterNet-style outputs)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

INPUT_W, INPUT_H = 320, 192
STRIDE = 4


def letterbox(rgb: np.ndarray) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Fit a frame into the detector's input, keeping its aspect; (image, scale, (pad x, pad y))."""
    h, w = rgb.shape[:2]
    scale = min(INPUT_W / w, INPUT_H / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.zeros((INPUT_H, INPUT_W, 3), np.uint8)
    px, py = (INPUT_W - nw) // 2, (INPUT_H - nh) // 2
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
    """Peaks of the heatmap (3x3 local maxima above ``threshold``) to boxes in the frame."""
    heat = output[0]
    padded = np.pad(heat, 1, constant_values=0)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3))
    peaks = (heat >= windows.max(axis=(2, 3))) & (heat >= threshold)
    ys, xs = np.nonzero(peaks)
    order = np.argsort(-heat[ys, xs])[:max_plates]
    found = []
    for i in order:
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
        if box[2] - box[0] >= 4 and box[3] - box[1] >= 3:
            found.append(Detection(box, float(heat[y, x])))
    return found
