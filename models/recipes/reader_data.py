"""Training and evaluation data for the reader.

- synthetic: plates from ``simulators.plates``, rendered with fixed seeds (training seeds
  ``SEED_TRAIN + worker``; the held-out set uses ``SEED_HELDOUT``, never used for training);
- ccpd: ``../shared/datasets/ccpd-crops-dev`` (Apache-2.0), split in two halves by a hash of the
  file name: the ``train`` half may be trained on, the ``eval`` half is only measured;
- vn: ``../shared/datasets/vn-crops-dev`` (no licence: measured only, never trained on).
"""

from __future__ import annotations

import os
import random
import zlib
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from edge_agent.anpr.preprocess import reader_line

SEED_TRAIN = 1000
SEED_HELDOUT = 424242
#: Renders per chunk: each chunk is rendered from its own seed (``chunk_seed``).
CHUNK = 500
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def chunk_seed(seed: int, index: int) -> int:
    """The seed of chunk ``index`` of a set drawn with ``seed``: a set of any size is a prefix
    of the same endless sequence of chunks."""
    return seed * 100_003 + index


def render_chunk(
    args: tuple[int, int, float, float, float],
) -> tuple[np.ndarray, list[str], list[int]]:
    """(lines, texts, layouts) of ``count`` renders from ``(seed, count, vn_share, moto_share,
    small_share)``, the same on any machine."""
    from simulators.plates.render import Look, render_crop
    from simulators.plates.texts import random_plate, vn_plate

    seed, count, vn_share, moto_share, small_share = args
    rng = random.Random(seed)
    lines = np.empty((count, 32, 128), np.uint8)
    texts, layouts = [], []
    for i in range(count):
        if moto_share and rng.random() < moto_share:
            spec = vn_plate(rng, "vn-moto")
        else:
            spec = random_plate(rng, vn_share)
        look = Look(difficulty=rng.uniform(0.2, 1.0), small_share=small_share)
        lines[i], n = reader_line(render_crop(spec, rng, look))
        texts.append(spec.text)
        layouts.append(n)
    return lines, texts, layouts


def renderer_tag() -> str:
    """A short hash of the source that makes a cached training line: the renderer
    (``simulators/plates``) and the reader's own preprocessing (``reader_line``)."""
    root = Path(__file__).resolve().parents[2]
    sources = sorted((root / "simulators" / "plates").glob("*.py"))
    sources.append(root / "edge_agent" / "anpr" / "preprocess.py")
    crc = 0
    for path in sources:
        crc = zlib.crc32(path.read_bytes(), crc)
    return f"{crc:08x}"


def synthetic(
    count: int,
    seed: int,
    workers: int | None = None,
    vn_share: float = 0.5,
    progress: bool = True,
    moto_share: float = 0.0,
    small_share: float = 0.15,
    chunk: int = CHUNK,
) -> tuple[np.ndarray, list[str], list[int]]:
    """``count`` renders; ``moto_share`` of them forced to be Vietnamese two-line motorbike
    plates (the hardest layout: five narrow characters on the top line); ``small_share`` of
    them seen from far away (48-72 px wide, ``Look.small_share``). Rendered on ``workers``
    processes (default: every core); each chunk has its own seed, so the set is the same
    whatever the count."""
    jobs = [
        (chunk_seed(seed, i), min(chunk, count - i * chunk), vn_share, moto_share, small_share)
        for i in range((count + chunk - 1) // chunk)
    ]
    out_lines, out_texts, out_layouts = [], [], []
    with ProcessPoolExecutor(workers or os.cpu_count() or 1) as pool:
        results: Iterable[tuple[np.ndarray, list[str], list[int]]] = pool.map(render_chunk, jobs)
        if progress:
            from tqdm import tqdm

            results = tqdm(results, total=len(jobs), desc=f"render seed {seed}", unit="chunk")
        for lines, texts, layouts in results:
            out_lines.append(lines)
            out_texts += texts
            out_layouts += layouts
    return np.concatenate(out_lines), out_texts, out_layouts


def read_rgb(path: Path) -> np.ndarray | None:
    data = np.fromfile(str(path), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return None if image is None else np.ascontiguousarray(image[..., ::-1])


def ccpd_split(part: str) -> list[tuple[Path, str]]:
    """(path, plate) of the CCPD crops in ``part`` ('train', 'eval' or 'all')."""
    folder = SHARED / "ccpd-crops-dev"
    items = []
    for path in sorted(folder.glob("*.jpg")):
        plate = path.stem.split("-")[0]
        half = "train" if zlib.crc32(path.name.encode()) % 2 == 0 else "eval"
        if part in ("all", half):
            items.append((path, plate))
    return items


def vn_items() -> list[tuple[Path, str, str]]:
    """(path, machine label as given, family) for the VN crops: family 'one' or 'two' line."""
    folder = SHARED / "vn-crops-dev"
    items = []
    for row in (folder / "labels.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        name, _, label = row.partition("\t")
        if name:
            items.append((folder / "images" / name, label.strip(), ""))
    return items


def augment_real(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    """Light jitter for the few real crops we may train on."""
    h, w = rgb.shape[:2]
    dx, dy = w * 0.06, h * 0.12
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    jitter = [[rng.uniform(-dx, dx), rng.uniform(-dy, dy)] for _ in range(4)]
    dst = src + np.array(jitter, dtype=np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    out = cv2.warpPerspective(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.4:
        out = cv2.GaussianBlur(out, (3, 3), 0)
    out = np.clip(out.astype(np.float32) * rng.uniform(0.6, 1.3) + rng.uniform(-30, 30), 0, 255)
    jittered: np.ndarray = out.astype(np.uint8)
    return jittered
