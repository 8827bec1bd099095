"""Train the plate detector and export it to OpenVINO IR (``models/plate_detector.xml``).

    python -m models.recipes.train_detector [--steps 7000] [--resume] [--out models]
        [--datasets ../shared/datasets]

CenterNet-style targets: a Gaussian at each plate's centre on the stride-4 heatmap (focal
loss), log width/height and sub-cell offset at each centre (L1). Learns on crops
(``detector_data``) of real photographs (the RO dashcam set's ``train`` split), of the same
photographs with rendered VN/CN plates pasted over their plates, and of synthetic truck fronts;
measures on what it never learns from: the RO ``valid`` split, the VN frames, the synthetic
held-out scenes. Deterministic from a fresh start; resumable (checkpoint every 250 steps under
``.cache/anpr``; a resumed run draws its crops a few batches apart from an unbroken one);
progress bars. About 50 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from edge_agent.anpr.detector import INPUT_H, INPUT_W, STRIDE, decode, detector_input, letterbox
from models.recipes import detector_data
from models.recipes.checkpoint import export_ir, load_checkpoint, optimise, save_checkpoint
from models.recipes.detector_net import DetectorNet
from testkit.real_frames import iou

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "anpr"
OUT_H, OUT_W = detector_data.CROP_H // STRIDE, detector_data.CROP_W // STRIDE
MAX_PLATES = 8
#: what each measured set is to this recipe (the model card repeats it)
MEASURED_SETS = {
    "ro_dashcam_valid": ("frames-ro-dashcam-dev", "valid"),
    "vn_frames": ("frames-vn-dev", None),
}


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


def targets(boxes: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Per sample: the heatmap, and for up to ``MAX_PLATES`` plates their log size, sub-cell
    offset, cell and whether that slot holds a plate."""
    n = len(boxes)
    heat = np.zeros((n, OUT_H, OUT_W), np.float32)
    size = np.zeros((n, MAX_PLATES, 2), np.float32)
    offset = np.zeros((n, MAX_PLATES, 2), np.float32)
    index = np.zeros((n, MAX_PLATES, 2), np.int64)
    mask = np.zeros((n, MAX_PLATES), np.float32)
    yy, xx = np.mgrid[0:OUT_H, 0:OUT_W]
    for i, sample in enumerate(boxes):
        for k, (x1, y1, x2, y2) in enumerate(sample[:MAX_PLATES]):
            cx, cy = (x1 + x2) / 2 / STRIDE, (y1 + y2) / 2 / STRIDE
            w, h = max(1.0, (x2 - x1) / STRIDE), max(1.0, (y2 - y1) / STRIDE)
            ix, iy = min(OUT_W - 1, max(0, int(cx))), min(OUT_H - 1, max(0, int(cy)))
            sx, sy = max(0.6, w / 6), max(0.6, h / 6)
            blob = np.exp(-((xx - ix) ** 2 / (2 * sx * sx) + (yy - iy) ** 2 / (2 * sy * sy)))
            heat[i] = np.maximum(heat[i], blob)
            heat[i, iy, ix] = 1.0
            size[i, k] = [np.log(w), np.log(h)]
            offset[i, k] = [np.clip(cx - ix, 0, 1), np.clip(cy - iy, 0, 1)]
            index[i, k] = [iy, ix]
            mask[i, k] = 1.0
    return heat, size, offset, index, mask


def loss_fn(
    out: torch.Tensor,
    heat: torch.Tensor,
    size: torch.Tensor,
    offset: torch.Tensor,
    index: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    pred = out[:, 0].clamp(1e-4, 1 - 1e-4)
    pos = heat.eq(1.0).float()
    neg_weight = (1 - heat) ** 4
    focal = -(
        pos * (1 - pred) ** 2 * torch.log(pred)
        + (1 - pos) * neg_weight * pred**2 * torch.log(1 - pred)
    ).sum() / pos.sum().clamp(1)
    n = torch.arange(out.shape[0])[:, None].expand(-1, MAX_PLATES)
    at = out[n, :, index[..., 0], index[..., 1]]  # N x K x 5
    weight = mask[..., None]
    count = mask.sum().clamp(1)
    reg = (
        (at[..., 1:3] - size).abs().mul(weight).sum()
        + (at[..., 3:5] - offset).abs().mul(weight).sum()
    ) / count
    return focal + reg


def evaluate(model: nn.Module, frames: list[detector_data.Frame]) -> dict[str, float]:
    """Recall at IoU 0.5 and boxes on no drawn plate (IoU < 0.1) per frame, the whole frame
    letterboxed as the runtime does it."""
    model.eval()
    plates = hits = false_boxes = 0
    with torch.no_grad():
        for i in range(0, len(frames), 8):
            part = frames[i : i + 8]
            boxed = [letterbox(f.image) for f in part]
            x = torch.from_numpy(detector_input(np.stack([b for b, _, _ in boxed])))
            out = model(x).numpy()
            for f, o, (_, scale, pad) in zip(part, out, boxed, strict=True):
                h, w = f.image.shape[:2]
                found = [d.box for d in decode(o, scale, pad, w, h)]
                truth = [tuple(int(v) for v in b) for b in f.boxes]
                plates += len(truth)
                hits += sum(any(iou(t, d) >= 0.5 for d in found) for t in truth)  # type: ignore[arg-type]
                false_boxes += sum(all(iou(d, t) < 0.1 for t in truth) for d in found)  # type: ignore[arg-type]
    model.train()
    return {
        "recall_iou50": round(hits / max(1, plates), 4),
        "false_boxes_per_frame": round(false_boxes / max(1, len(frames)), 3),
    }


def sample(
    rng: random.Random,
    real: list[detector_data.Frame],
    synthetic: tuple[np.ndarray, np.ndarray],
    mix: tuple[float, float],
    bank: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """One augmented crop: a real frame, a real frame with pasted plates, or a synthetic scene
    (``mix``: the shares of the first two)."""
    pick = rng.random()
    if pick < mix[0] + mix[1] and real:
        frame = real[rng.randrange(len(real))]
        if pick >= mix[0]:
            frame = detector_data.with_pasted_plates(frame, rng, bank)
    else:
        k = rng.randrange(len(synthetic[0]))
        frame = detector_data.Frame(np.asarray(synthetic[0][k]), synthetic[1][k : k + 1].copy())
    image, boxes = detector_data.crop(frame, rng)
    return detector_data.augment(image, boxes, rng)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=7000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--scenes", type=int, default=2500)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--real", type=float, default=0.45, help="share of real crops")
    parser.add_argument("--pasted", type=float, default=0.3, help="share with pasted plates")
    parser.add_argument("--faces", type=int, default=1500, help="rendered plates to paste")
    parser.add_argument("--datasets", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "models"))
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    cv2.setNumThreads(1)
    rng = random.Random(args.seed)

    datasets = Path(args.datasets)
    if not (datasets / detector_data.TRAIN_SETS[0][0]).is_dir():
        raise SystemExit(f"no real frames at {datasets} (--datasets)")
    synthetic = load(args.scenes, detector_data.SEED_TRAIN, "scenes640")
    held_images, held_boxes = load(300, detector_data.SEED_HELDOUT, "scenes640-heldout")
    held = [
        detector_data.Frame(np.asarray(im), bx[None].copy())
        for im, bx in zip(held_images, held_boxes, strict=True)
    ]
    real = detector_data.real_frames(datasets, detector_data.TRAIN_SETS)
    measured = {
        name: detector_data.real_frames(datasets, (where,))
        for name, where in MEASURED_SETS.items()
        if (datasets / where[0]).is_dir()
    }
    bank = detector_data.face_bank(args.faces, args.seed)
    print(f"{len(real)} real frames to learn from; measuring on {sorted(measured)}")
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
    mix = (args.real, args.pasted)
    batches: queue.Queue[list[tuple[np.ndarray, np.ndarray]]] = queue.Queue(maxsize=4)

    def produce() -> None:  # crops are cut while the network learns (OpenCV frees the GIL)
        for _ in range(step, args.steps):
            batches.put([sample(rng, real, synthetic, mix, bank) for _ in range(args.batch)])

    threading.Thread(target=produce, daemon=True).start()
    while step < args.steps:
        samples = batches.get()
        batch = np.stack([image for image, _ in samples])
        heat, size, offset, index, mask = (
            torch.from_numpy(t) for t in targets([boxes for _, boxes in samples])
        )
        x = torch.from_numpy(detector_input(batch))
        loss = loss_fn(model(x), heat, size, offset, index, mask)
        value = optimise(loss, model, optimiser, schedule, clip=10.0)
        step += 1
        loss_avg = 0.98 * loss_avg + 0.02 * value if step > 1 else value
        bar.update(1)
        bar.set_postfix(loss=f"{loss_avg:.3f}")
        if step % 250 == 0 or step == args.steps:
            save_checkpoint(checkpoint, model, optimiser, schedule, step, rng)
        if step % 1000 == 0 or step == args.steps:
            figures = {name: evaluate(model, frames) for name, frames in measured.items()}
            bar.write(f"step {step}: synthetic {evaluate(model, held[:150])} {figures}")
    bar.close()
    metrics = {
        "steps": step,
        "train_minutes": round((time.monotonic() - started) / 60, 1),
        "input": [INPUT_W, INPUT_H],
        "trained_on": [f"{folder} ({split})" for folder, split in detector_data.TRAIN_SETS],
        "synthetic_heldout": evaluate(model, held),
        **{name: evaluate(model, frames) for name, frames in measured.items()},
    }
    export_ir(
        model, (1, 3, INPUT_H, INPUT_W), Path(args.out) / "plate_detector.xml", dynamic_batch=False
    )
    (Path(args.out) / "plate_detector.metrics.json").write_text(json.dumps(metrics, indent=1))
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
