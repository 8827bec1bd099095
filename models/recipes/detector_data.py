"""What the detector learns from: real photographs with hand-drawn plate boxes (the ``dev``
sets in ``../shared/datasets`` that allow training, the part kept for measuring left out), the
same photographs with rendered Vietnamese and Chinese plates pasted over their plates
(``plate_paste``), and synthetic truck fronts (``simulators.plates.scene``).

Every sample is a crop of ``CROP_W`` x ``CROP_H`` pixels taken at about the scale the runtime
sees the frame at (``edge_agent.anpr.detector.letterbox``), jittered, most of them around a
plate: the network is fully convolutional, so it learns on crops and runs on the whole input.
"""

from __future__ import annotations

import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_agent.anpr.detector import INPUT_H, INPUT_W
from models.recipes.plate_paste import faces, paste_plate
from testkit.real_frames import load

SEED_TRAIN = 2000
SEED_HELDOUT = 535353
CROP_W, CROP_H = 384, 224
#: the synthetic scenes' size: the detector's input, so they are seen as a 1280x720 gate frame is
SCENE_SIZE = (640, 360)
#: the real sets trained on: (folder, split); the RO set's ``valid`` split, the whole VN set
#: and the US set (AGPL, measure only) are never trained on
TRAIN_SETS = (("frames-ro-dashcam-dev", "train"),)


@dataclass
class Frame:
    image: np.ndarray  # RGB uint8, as stored
    boxes: np.ndarray  # K x 4 float32, x1 y1 x2 y2 in the image's pixels

    @property
    def scale(self) -> float:
        """The runtime's scale for this frame (its letterbox into the detector's input)."""
        h, w = self.image.shape[:2]
        return float(min(INPUT_W / w, INPUT_H / h, 1.0))


def real_frames(datasets: Path, sets: tuple[tuple[str, str | None], ...]) -> list[Frame]:
    frames = []
    for folder, split in sets:
        for name, truth in sorted(load(datasets / folder, split).items()):
            image = cv2.imread(str(datasets / folder / "images" / name))
            if image is None:
                continue
            boxes = np.array([box for box, _ in truth], np.float32).reshape(-1, 4)
            frames.append(Frame(np.ascontiguousarray(image[..., ::-1]), boxes))
    return frames


def _render_chunk(args: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    from simulators.plates.scene import render_scene

    seed, count = args
    rng = random.Random(seed)
    w, h = SCENE_SIZE
    images = np.empty((count, h, w, 3), np.uint8)
    boxes = np.empty((count, 4), np.float32)
    for i in range(count):
        scene = render_scene(rng, size=SCENE_SIZE)
        images[i] = scene.image
        boxes[i] = scene.boxes[0]
    return images, boxes


def scenes(
    count: int, seed: int, workers: int = 2, progress: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` synthetic truck fronts of ``SCENE_SIZE`` and their plate boxes."""
    chunk = 200
    jobs = [
        (seed * 100_003 + i, min(chunk, count - i * chunk))
        for i in range((count + chunk - 1) // chunk)
    ]
    images, boxes = [], []
    with ProcessPoolExecutor(workers) as pool:
        results: Any = pool.map(_render_chunk, jobs)
        if progress:
            from tqdm import tqdm

            results = tqdm(results, total=len(jobs), desc=f"scenes seed {seed}", unit="chunk")
        for im, bx in results:
            images.append(im)
            boxes.append(bx)
    return np.concatenate(images), np.concatenate(boxes)


def face_bank(count: int, seed: int, workers: int = 2) -> list[np.ndarray]:
    """Rendered plate faces to paste (drawing one takes ~10 ms: drawn once, pasted often)."""
    chunk = 100
    jobs = [
        (seed * 7_919 + i, min(chunk, count - i * chunk))
        for i in range((count + chunk - 1) // chunk)
    ]
    with ProcessPoolExecutor(workers) as pool:
        return [face for part in pool.map(_faces_chunk, jobs) for face in part]


def _faces_chunk(args: tuple[int, int]) -> list[np.ndarray]:
    seed, count = args
    return faces(count, seed)


def with_pasted_plates(frame: Frame, rng: random.Random, bank: list[np.ndarray]) -> Frame:
    """A copy of ``frame`` with most of its plates replaced by rendered VN/CN plates."""
    image = frame.image.copy()
    boxes: list[tuple[float, ...]] = []
    for box in frame.boxes:
        if rng.random() < 0.85:
            x1, y1, x2, y2 = (float(v) for v in box)
            image, new = paste_plate(image, (x1, y1, x2, y2), rng, bank[rng.randrange(len(bank))])
            boxes.append(new)
        else:
            boxes.append(tuple(float(v) for v in box))
    return Frame(image, np.array(boxes, np.float32).reshape(-1, 4))


def crop(
    frame: Frame, rng: random.Random, near_plate: float = 0.8
) -> tuple[np.ndarray, np.ndarray]:
    """A ``CROP_W`` x ``CROP_H`` sample of ``frame`` at the runtime's scale times a jitter of
    0.6-1.7, around a plate ``near_plate`` of the time; (RGB uint8, K x 4 boxes in the crop)."""
    scale = frame.scale * float(np.exp(rng.uniform(np.log(0.6), np.log(1.7))))
    cw, ch = CROP_W / scale, CROP_H / scale  # the crop in frame pixels
    h, w = frame.image.shape[:2]
    if len(frame.boxes) and rng.random() < near_plate:
        x1, y1, x2, y2 = (float(v) for v in frame.boxes[rng.randrange(len(frame.boxes))])
        ox = rng.uniform(x2 - cw, x1) if x2 - x1 < cw else (x1 + x2 - cw) / 2
        oy = rng.uniform(y2 - ch, y1) if y2 - y1 < ch else (y1 + y2 - ch) / 2
    else:
        ox = rng.uniform(min(0.0, w - cw), max(0.0, w - cw))
        oy = rng.uniform(min(0.0, h - ch), max(0.0, h - ch))
    # inside the frame where the crop fits in it (less black border than the runtime has)
    ox = min(max(ox, min(0.0, w - cw)), max(0.0, w - cw))
    oy = min(max(oy, min(0.0, h - ch)), max(0.0, h - ch))
    # the affine map frame -> crop (areas outside the frame come out black, as letterbox pads)
    m = np.array([[scale, 0, -ox * scale], [0, scale, -oy * scale]], np.float32)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    if scale < 1:  # INTER_AREA needs resize, not warpAffine: cut, then resize
        ix1, iy1 = int(max(0, np.floor(ox))), int(max(0, np.floor(oy)))
        ix2, iy2 = int(min(w, np.ceil(ox + cw))), int(min(h, np.ceil(oy + ch)))
        out: np.ndarray = np.zeros((CROP_H, CROP_W, 3), np.uint8)
        if ix2 - ix1 >= 2 and iy2 - iy1 >= 2:
            dx1, dy1 = max(0, round((ix1 - ox) * scale)), max(0, round((iy1 - oy) * scale))
            dw = min(CROP_W - dx1, max(1, round((ix2 - ix1) * scale)))
            dh = min(CROP_H - dy1, max(1, round((iy2 - iy1) * scale)))
            if dw > 0 and dh > 0:
                part = cv2.resize(frame.image[iy1:iy2, ix1:ix2], (dw, dh), interpolation=interp)
                out[dy1 : dy1 + dh, dx1 : dx1 + dw] = part
    else:
        out = cv2.warpAffine(frame.image, m, (CROP_W, CROP_H), flags=interp)
    boxes = frame.boxes.copy()
    boxes[:, [0, 2]] = (boxes[:, [0, 2]] - ox) * scale
    boxes[:, [1, 3]] = (boxes[:, [1, 3]] - oy) * scale
    centre_x, centre_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    inside = (centre_x >= 0) & (centre_x < CROP_W) & (centre_y >= 0) & (centre_y < CROP_H)
    return out, boxes[inside]


def augment(
    image: np.ndarray, boxes: np.ndarray, rng: random.Random
) -> tuple[np.ndarray, np.ndarray]:
    """Mirror (a plate mirrored is still a plate), light, colour, blur, noise, JPEG."""
    img: np.ndarray = image.astype(np.float32)
    if rng.random() < 0.5:
        img = img[:, ::-1]
        boxes = boxes.copy()
        boxes[:, [0, 2]] = CROP_W - boxes[:, [2, 0]]
    img = img * rng.uniform(0.6, 1.4) + rng.uniform(-30, 30)
    img = img * np.array([rng.uniform(0.85, 1.15) for _ in range(3)], np.float32)
    if rng.random() < 0.25:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.2))
    if rng.random() < 0.3:
        img = img + np.random.default_rng(rng.randrange(2**32)).normal(
            0, rng.uniform(2, 8), img.shape
        ).astype(np.float32)
    out: np.ndarray = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(35, 85)])
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            out = decoded
    return np.ascontiguousarray(out), boxes
