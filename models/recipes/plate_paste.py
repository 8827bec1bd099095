"""Rendered Vietnamese and Chinese plates pasted where a real plate is in a real photograph, so
real backgrounds (cars, bumpers, roads, night lights) carry the plates a gate sees.

The rendered face (``simulators.plates.render.draw_plate``) covers the real plate whole: as wide
as the drawn box or wider, its own aspect kept (a two-line plate is taller than the one-line
plate it covers), tilted a little under a small perspective, its brightness and colour cast
taken from the real plate's pixels, softened and noised to the photograph's sharpness.
"""

from __future__ import annotations

import random

import cv2
import numpy as np

from simulators.plates.render import draw_plate
from simulators.plates.texts import random_plate

Box = tuple[float, float, float, float]


def faces(count: int, seed: int) -> list[np.ndarray]:
    """``count`` rendered plate faces (60 % Vietnamese, one- and two-line, every colour)."""
    rng = random.Random(seed)
    return [
        draw_plate(random_plate(rng, vn_share=0.6), rng, px_per_mm=rng.uniform(0.8, 1.6))
        for _ in range(count)
    ]


def paste_plate(
    frame: np.ndarray, box: Box, rng: random.Random, face: np.ndarray | None = None
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``frame`` (RGB uint8, changed in place) with a rendered plate (``face``, or one drawn
    now) over ``box``; returns the frame and the pasted plate's box."""
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = max(4.0, x2 - x1), max(3.0, y2 - y1)
    if face is None:
        face = draw_plate(random_plate(rng, vn_share=0.6), rng, px_per_mm=rng.uniform(0.8, 1.6))
    aspect = face.shape[1] / face.shape[0]
    new_w = max(bw, bh * aspect) * rng.uniform(1.0, 1.08)
    new_h = new_w / aspect
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    angle = np.deg2rad(rng.uniform(-4, 4))
    corners = np.array(
        [
            [-new_w / 2, -new_h / 2],
            [new_w / 2, -new_h / 2],
            [new_w / 2, new_h / 2],
            [-new_w / 2, new_h / 2],
        ],
        np.float32,
    )
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    corners = corners @ rot.T
    jitter = np.array(
        [[rng.uniform(-0.04, 0.04) * new_w, rng.uniform(-0.06, 0.06) * new_h] for _ in range(4)],
        np.float32,
    )
    quad = corners + jitter + np.array([cx, cy], np.float32)
    # work in a patch around the plate (cheap on a large frame)
    px1 = int(max(0, np.floor(quad[:, 0].min()) - 2))
    py1 = int(max(0, np.floor(quad[:, 1].min()) - 2))
    px2 = int(min(w, np.ceil(quad[:, 0].max()) + 2))
    py2 = int(min(h, np.ceil(quad[:, 1].max()) + 2))
    if px2 - px1 < 4 or py2 - py1 < 3:
        return frame, (int(x1), int(y1), int(x2), int(y2))
    # shrink the face near its final size first (a warp alone would alias its strokes)
    target_w = max(8, int(new_w))
    small = cv2.resize(
        face, (target_w, max(4, int(target_w / aspect))), interpolation=cv2.INTER_AREA
    )
    src = np.array(
        [[0, 0], [small.shape[1], 0], [small.shape[1], small.shape[0]], [0, small.shape[0]]],
        np.float32,
    )
    local = quad - np.array([px1, py1], np.float32)
    m = cv2.getPerspectiveTransform(src, local)
    size = (px2 - px1, py2 - py1)
    warped = cv2.warpPerspective(small, m, size, flags=cv2.INTER_LINEAR).astype(np.float32)
    mask = cv2.warpPerspective(
        np.ones(small.shape[:2], np.float32), m, size, flags=cv2.INTER_LINEAR
    )
    patch = frame[py1:py2, px1:px2].astype(np.float32)
    # the real plate's light: its brightness and colour cast, roughly
    ix1, iy1 = int(max(0, x1)) - px1, int(max(0, y1)) - py1
    ix2, iy2 = int(min(w, x2)) - px1, int(min(h, y2)) - py1
    real = patch[max(0, iy1) : max(iy1 + 1, iy2), max(0, ix1) : max(ix1 + 1, ix2)].reshape(-1, 3)
    real_mean = real.mean(axis=0) if len(real) else patch.reshape(-1, 3).mean(axis=0)
    real_top = np.percentile(real, 90, axis=0) if len(real) else real_mean
    face_top = np.percentile(warped[mask > 0.5].reshape(-1, 3), 90, axis=0) + 1.0
    gain = np.clip(real_top / face_top, 0.15, 1.3) * rng.uniform(0.85, 1.1)
    cast = real_mean / max(1.0, float(real_mean.mean()))
    warped = warped * gain.mean() * (0.7 + 0.3 * cast)
    sigma = rng.uniform(0.0, 1.2) * max(0.5, bh / 30)
    if sigma > 0.3:
        warped = cv2.GaussianBlur(warped, (0, 0), sigma)
    warped += (
        np.random.default_rng(rng.randrange(2**32))
        .normal(0, rng.uniform(0, 6), warped.shape)
        .astype(np.float32)
    )
    alpha = cv2.GaussianBlur(mask, (0, 0), 0.7)[..., None]
    frame[py1:py2, px1:px2] = np.clip(patch * (1 - alpha) + warped * alpha, 0, 255).astype(np.uint8)
    return frame, (
        int(quad[:, 0].min()),
        int(quad[:, 1].min()),
        int(np.ceil(quad[:, 0].max())),
        int(np.ceil(quad[:, 1].max())),
    )
