"""Scenes for the detector: synthetic truck fronts (``simulators.plates.scene``), letterboxed to
the detector's input the same way the runtime does it (``edge_agent.anpr.detector.letterbox``)."""

from __future__ import annotations

import random
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from edge_agent.anpr.detector import INPUT_H, INPUT_W, letterbox

SEED_TRAIN = 2000
SEED_HELDOUT = 535353


def _render_chunk(args: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    from simulators.plates.scene import render_scene

    seed, count = args
    rng = random.Random(seed)
    images = np.empty((count, INPUT_H, INPUT_W, 3), np.uint8)
    boxes = np.empty((count, 4), np.float32)
    for i in range(count):
        scene = render_scene(rng, size=(640, 360))
        images[i], scale, (px, py) = letterbox(scene.image)
        x1, y1, x2, y2 = scene.boxes[0]
        boxes[i] = [x1 * scale + px, y1 * scale + py, x2 * scale + px, y2 * scale + py]
    return images, boxes


def scenes(
    count: int, seed: int, workers: int = 2, progress: bool = True
) -> tuple[np.ndarray, np.ndarray]:
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
