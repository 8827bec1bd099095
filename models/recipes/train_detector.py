"""Train the plate detector and export it to OpenVINO IR (``models/plate_detector.xml``).

    python -m models.recipes.train_detector [--steps 3000] [--resume] [--out models]

CenterNet-style targets on synthetic truck-front scenes: a Gaussian at each plate's centre on
the stride-4 heatmap (focal loss), log width/height and sub-cell offset at the centre (L1).
Deterministic, resumable (checkpoint every 250 steps under ``.cache/anpr``), progress bars.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from edge_agent.anpr.detector import INPUT_H, INPUT_W, STRIDE, decode, detector_input
from models.recipes import detector_data
from models.recipes.checkpoint import export_ir, load_checkpoint, optimise, save_checkpoint
from models.recipes.detector_net import DetectorNet

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "anpr"
OUT_H, OUT_W = INPUT_H // STRIDE, INPUT_W // STRIDE


def load(count: int, seed: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    images_path = CACHE / f"{name}-{count}-{seed}.images.npy"
    boxes_path = CACHE / f"{name}-{count}-{seed}.boxes.npy"
    if images_path.exists() and boxes_path.exists():
        return np.load(images_path, mmap_mode="r"), np.load(boxes_path)
    images, boxes = detector_data.scenes(count, seed)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(images_path, images)
    np.save(boxes_path, boxes)
    return images, boxes


def targets(boxes: np.ndarray) -> tuple[np.ndarray, ...]:
    n = len(boxes)
    heat = np.zeros((n, OUT_H, OUT_W), np.float32)
    size = np.zeros((n, 2), np.float32)
    offset = np.zeros((n, 2), np.float32)
    index = np.zeros((n, 2), np.int64)
    yy, xx = np.mgrid[0:OUT_H, 0:OUT_W]
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        cx, cy = (x1 + x2) / 2 / STRIDE, (y1 + y2) / 2 / STRIDE
        w, h = max(1.0, (x2 - x1) / STRIDE), max(1.0, (y2 - y1) / STRIDE)
        ix, iy = min(OUT_W - 1, int(cx)), min(OUT_H - 1, int(cy))
        sx, sy = max(0.6, w / 6), max(0.6, h / 6)
        heat[i] = np.exp(-((xx - ix) ** 2 / (2 * sx * sx) + (yy - iy) ** 2 / (2 * sy * sy)))
        heat[i, iy, ix] = 1.0
        size[i] = [np.log(w), np.log(h)]
        offset[i] = [cx - ix, cy - iy]
        index[i] = [iy, ix]
    return heat, size, offset, index


def loss_fn(
    out: torch.Tensor,
    heat: torch.Tensor,
    size: torch.Tensor,
    offset: torch.Tensor,
    index: torch.Tensor,
) -> torch.Tensor:
    pred = out[:, 0].clamp(1e-4, 1 - 1e-4)
    pos = heat.eq(1.0).float()
    neg_weight = (1 - heat) ** 4
    focal = -(
        pos * (1 - pred) ** 2 * torch.log(pred)
        + (1 - pos) * neg_weight * pred**2 * torch.log(1 - pred)
    ).sum() / pos.sum().clamp(1)
    n = torch.arange(out.shape[0])
    at = out[n, :, index[:, 0], index[:, 1]]  # N x 5
    reg = nn.functional.l1_loss(at[:, 1:3], size) + nn.functional.l1_loss(at[:, 3:5], offset)
    return focal + reg


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def evaluate(model: nn.Module, images: np.ndarray, boxes: np.ndarray) -> dict[str, float]:
    model.eval()
    hits = false_pos = 0
    with torch.no_grad():
        for i in range(0, len(images), 64):
            out = model(torch.from_numpy(detector_input(np.asarray(images[i : i + 64])))).numpy()
            for j, o in enumerate(out):
                found = decode(o, 1.0, (0, 0), INPUT_W, INPUT_H)
                truth = tuple(boxes[i + j])
                matched = [d for d in found if iou(d.box, truth) >= 0.5]
                hits += bool(matched)
                false_pos += len(found) - (1 if matched else 0)
    model.train()
    return {
        "recall_iou50": hits / len(images),
        "false_positives_per_frame": false_pos / len(images),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--scenes", type=int, default=6000)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "models"))
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    images, boxes = load(args.scenes, detector_data.SEED_TRAIN, "scenes")
    held_images, held_boxes = load(500, detector_data.SEED_HELDOUT, "scenes-heldout")
    model = DetectorNet()
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=args.lr, total_steps=args.steps, pct_start=0.1
    )
    checkpoint = CACHE / "detector.ckpt"
    step = 0
    if args.resume and checkpoint.exists():
        step = load_checkpoint(checkpoint, model, optimiser, schedule, rng)
    started = time.monotonic()
    bar = tqdm(total=args.steps, initial=step, desc="detector", unit="step")
    model.train()
    loss_avg = 0.0
    while step < args.steps:
        idx = [rng.randrange(len(images)) for _ in range(args.batch)]
        batch = np.stack([images[i] for i in idx]).astype(np.float32)
        bx = boxes[idx].copy()
        for k in range(args.batch):  # mirror half the scenes (a plate mirrored is still a plate)
            if rng.random() < 0.5:
                batch[k] = batch[k][:, ::-1]
                bx[k, [0, 2]] = INPUT_W - bx[k, [2, 0]]
            batch[k] = np.clip(batch[k] * rng.uniform(0.6, 1.4) + rng.uniform(-30, 30), 0, 255)
        heat, size, offset, index = (torch.from_numpy(t) for t in targets(bx))
        x = torch.from_numpy(batch.transpose(0, 3, 1, 2) / 255.0).float()
        loss = loss_fn(model(x), heat, size, offset, index)
        value = optimise(loss, model, optimiser, schedule, clip=10.0)
        step += 1
        loss_avg = 0.98 * loss_avg + 0.02 * value if step > 1 else value
        bar.update(1)
        bar.set_postfix(loss=f"{loss_avg:.3f}")
        if step % 250 == 0 or step == args.steps:
            save_checkpoint(checkpoint, model, optimiser, schedule, step, rng)
        if step % 1000 == 0 or step == args.steps:
            bar.write(f"step {step}: {evaluate(model, held_images[:200], held_boxes[:200])}")
    bar.close()
    metrics = {
        "steps": step,
        "train_minutes": round((time.monotonic() - started) / 60, 1),
        **evaluate(model, held_images, held_boxes),
    }
    export_ir(
        model, (1, 3, INPUT_H, INPUT_W), Path(args.out) / "plate_detector.xml", dynamic_batch=False
    )
    (Path(args.out) / "plate_detector.metrics.json").write_text(json.dumps(metrics, indent=1))
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
