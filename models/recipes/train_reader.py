"""Train the plate reader and export it to OpenVINO IR (``models/plate_reader.xml``).

    python -m models.recipes.train_reader [--steps 8000] [--resume] [--out models]
    python -m models.recipes.train_reader --init CKPT|IR.xml --steps 1500 --lr 8e-4 ...
    python -m models.recipes.train_reader --widths 48,96,128,192,320 --batch 256 ...  # a GPU
    python -m models.recipes.train_reader --renew-every 14 ...  # fresh renders while training
    python -m models.recipes.train_reader --export CKPT [--out models]

Deterministic (fixed seeds), resumable (a checkpoint every 250 steps, ``--checkpoint``, under
``.cache/anpr`` by default), with progress bars. The defaults are the CPU recipe's first stage
(about 57 minutes of training on a 2-core CPU plus 9 of rendering); ``--init`` fine-tunes from
a checkpoint or from the committed IR, as its later stages do. The shipped reader is wider and
was trained on a GPU (minutes there, hours on the CPU); the commands are in
``models/README.md``. Needs ``pip install -e .[train]`` (torch, tqdm).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from edge_agent.anpr.charset import BLANK, CHARS, NUM_CLASSES, encode_text
from edge_agent.anpr.preprocess import reader_line, standardise
from models.recipes import reader_data
from models.recipes.checkpoint import export_ir, load_checkpoint, optimise, save_checkpoint
from models.recipes.ir_weights import ir_widths, load_ir_weights, max_difference
from models.recipes.reader_net import WIDTHS, ReaderNet, state_widths, widen
from models.recipes.renewing_set import RenewingSet

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "anpr"


def greedy(logp: torch.Tensor) -> list[str]:
    out = []
    for seq in logp.argmax(-1).tolist():
        chars, prev = [], BLANK
        for k in seq:
            if k != prev and k != BLANK:
                chars.append(CHARS[k - 1])
            prev = k
        out.append("".join(chars))
    return out


def load_synthetic(
    count: int, seed: int, name: str, moto_share: float = 0.0, small_share: float = 0.15
) -> tuple[np.ndarray, list[str]]:
    """``count`` renders of ``seed``, cached under ``.cache/anpr`` keyed by the renderer's
    source as well (a changed renderer draws a new set rather than reusing a stale one)."""
    shares = f"moto{moto_share:g}-small{small_share:g}"
    path = CACHE / f"{name}-{count}-{seed}-{shares}-r{reader_data.renderer_tag()}.npz"
    if path.exists():
        data = np.load(path, allow_pickle=False)
        return data["lines"], [str(t) for t in data["texts"]]
    lines, texts, _ = reader_data.synthetic(
        count, seed, moto_share=moto_share, small_share=small_share
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, lines=lines, texts=np.array(texts))
    return lines, texts


def load_ccpd(part: str) -> tuple[list[np.ndarray], list[str]]:
    images, texts = [], []
    for path, plate in reader_data.ccpd_split(part):
        rgb = reader_data.read_rgb(path)
        if rgb is not None:
            images.append(rgb)
            texts.append(plate)
    return images, texts


def as_batch(lines: np.ndarray, device: str = "cpu") -> torch.Tensor:
    """Standardised N x 1 x 32 x 128 in channels-last memory (a fifth faster on the CPU)."""
    x = torch.from_numpy(standardise(lines)).to(device)
    return x.contiguous(memory_format=torch.channels_last)


def model_device(model: nn.Module) -> str:
    return str(next(model.parameters()).device)


def evaluate(model: nn.Module, lines: np.ndarray, texts: list[str]) -> float:
    model.eval()
    hits = 0
    device = model_device(model)
    with torch.no_grad():
        for i in range(0, len(lines), 256):
            x = as_batch(lines[i : i + 256], device)
            logp = model(x).cpu()
            hits += sum(p == t for p, t in zip(greedy(logp), texts[i : i + 256], strict=True))
    model.train()
    return hits / max(1, len(texts))


def reader_from_checkpoint(path: str) -> ReaderNet:
    """The network saved in a checkpoint (ours, or just ``{"model": state_dict}``), as wide as
    it was saved; ValueError, saying why, for a file that is no reader checkpoint."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)["model"]
        model = ReaderNet(NUM_CLASSES, state_widths(state))
        model.load_state_dict(state)
    except Exception as e:  # torch.load raises many kinds on a file that is no checkpoint
        raise ValueError(f"{path}: not a reader checkpoint ({type(e).__name__})") from None
    return model


def share(text: str) -> float:
    """An argparse type: a share of a batch, 0 <= x < 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share (0 <= share < 1)")
    return value


def widths_arg(text: str) -> tuple[int, int, int, int, int]:
    """An argparse type: five channel counts, ``32,48,64,128,256``."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not five whole numbers") from None
    if len(values) != 5 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not five positive channel counts")
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--batch", type=int, default=96)
    parser.add_argument("--synthetic", type=int, default=120000, help="training renders")
    parser.add_argument(
        "--real-share",
        type=share,
        default=0.12,
        help="share of each batch from the CCPD train half",
    )
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument(
        "--init",
        default=None,
        help="start from these weights (fine-tuning), new schedule: a checkpoint, or an "
        "exported IR such as models/plate_reader.xml",
    )
    parser.add_argument(
        "--data-seed",
        type=int,
        default=reader_data.SEED_TRAIN,
        help="seed of the synthetic training renders",
    )
    parser.add_argument(
        "--moto-share",
        type=share,
        default=0.15,
        help="extra share of Vietnamese motorbike two-line plates in the training renders",
    )
    parser.add_argument(
        "--small-share",
        type=share,
        default=0.15,
        help="share of the training renders seen from far away (48-72 px wide)",
    )
    parser.add_argument(
        "--widths",
        type=widths_arg,
        default=None,
        help="channels of the network's five stages (default: those of --init, or "
        f"{','.join(map(str, WIDTHS))}); wider than --init grows it, keeping what it computes",
    )
    parser.add_argument(
        "--renew-every",
        type=int,
        default=0,
        metavar="STEPS",
        help="renew the training set while training: every STEPS steps the oldest chunk of "
        f"{reader_data.CHUNK} renders gives way to a fresh one, rendered by --render-workers "
        "meanwhile (0: a fixed set, the default). --synthetic must then be whole chunks",
    )
    parser.add_argument(
        "--render-workers",
        type=int,
        default=max(1, (os.cpu_count() or 2) - 1),
        help="processes rendering fresh chunks for --renew-every (default: all cores but one)",
    )
    parser.add_argument("--out", default=str(ROOT / "models"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--device",
        default="auto",
        help="torch device to train on: cpu, cuda, ... (default: cuda where there is one)",
    )
    parser.add_argument(
        "--checkpoint",
        default=str(CACHE / "reader.ckpt"),
        help="where the resumable checkpoint lives (one per concurrent run)",
    )
    parser.add_argument(
        "--export",
        metavar="CKPT",
        default=None,
        help="train nothing: measure the weights in this checkpoint and export them to IR "
        "under --out (for weights trained where OpenVINO is not installed)",
    )
    args = parser.parse_args()
    for flag, path in (("--init", args.init), ("--export", args.export)):
        if path and not Path(path).is_file():
            parser.error(f"{flag} {path}: no such checkpoint or IR file")
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {device}: torch finds no CUDA device here (use cpu or auto)")
    if args.renew_every < 0 or args.render_workers < 1:
        parser.error("--renew-every must be 0 or more and --render-workers 1 or more")
    if args.renew_every and args.synthetic % reader_data.CHUNK:
        parser.error(
            f"--renew-every needs --synthetic in whole chunks of {reader_data.CHUNK} renders "
            f"({args.synthetic} is not)"
        )

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    # weights from a checkpoint are read before any rendering, so a wrong file fails at once
    checkpoint_file = args.export or (
        args.init if args.init and not args.init.endswith(".xml") else None
    )
    model = ReaderNet(NUM_CLASSES, args.widths or WIDTHS)
    if checkpoint_file:
        try:
            model = reader_from_checkpoint(checkpoint_file)
        except ValueError as e:
            parser.error(f"{'--export' if args.export else '--init'} {e}")
    held_lines, held_texts = load_synthetic(2000, reader_data.SEED_HELDOUT, "heldout")
    eval_images, eval_texts = load_ccpd("eval")
    eval_lines = np.stack([reader_line(im)[0] for im in eval_images])
    if args.export:
        return finish(model, held_lines, held_texts, eval_lines, eval_texts, Path(args.out), {})

    train_lines, train_texts = load_synthetic(
        args.synthetic, args.data_seed, "train", args.moto_share, args.small_share
    )
    real_images, real_texts = load_ccpd("train")
    real_targets = [encode_text(t) for t in real_texts]
    print(
        f"data: {len(train_texts)} synthetic, {len(real_texts)} CCPD train half, "
        f"{len(held_texts)} held-out synthetic, {len(eval_texts)} CCPD eval half"
    )

    if args.init and args.init.endswith(".xml"):
        model = ReaderNet(NUM_CLASSES, ir_widths(Path(args.init)))
        load_ir_weights(model, Path(args.init), as_batch(train_lines[:512]))
        gap = max_difference(model, Path(args.init), as_batch(train_lines[512:640]))
        if gap > 1.0:  # FP16 weights leave a few hundredths; more means a wrong mapping
            raise SystemExit(f"{args.init} did not load back faithfully (log-prob gap {gap:.2f})")
        print(f"starting from the weights in {args.init} (batch norms calibrated, gap {gap:.3f})")
    elif args.init:
        print(f"starting from the weights in {args.init}")
    if args.widths and args.widths != model.widths:
        try:
            model = widen(model, args.widths)
        except ValueError as e:
            parser.error(f"--widths: {e}")
        print(f"grown to channels {args.widths}")
    model = model.to(device, memory_format=torch.channels_last)
    print(f"training on {device}")
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=args.lr, total_steps=args.steps, pct_start=0.1
    )
    ctc = nn.CTCLoss(blank=BLANK, zero_infinity=True)
    checkpoint = Path(args.checkpoint)
    step = 0
    if args.resume and checkpoint.exists():
        step = load_checkpoint(checkpoint, model, optimiser, schedule, rng)

    renewing = None
    if args.renew_every:
        renewing = RenewingSet(
            np.array(train_lines),  # a writable copy: chunks are renewed in place
            train_texts,
            args.data_seed,
            args.renew_every,
            moto_share=args.moto_share,
            small_share=args.small_share,
            workers=args.render_workers,
        )
        if step:
            print(f"rendering again the chunks renewed by step {step}")
            renewing.restore(step)
        train_lines = renewing.lines
        print(
            f"renewing a chunk of {reader_data.CHUNK} renders every {args.renew_every} steps "
            f"on {args.render_workers} processes"
        )
    try:
        n_real = round(args.batch * args.real_share) if real_images else 0
        started = time.monotonic()
        bar = tqdm(total=args.steps, initial=step, desc="reader", unit="step")
        model.train()
        loss_avg = 0.0
        while step < args.steps:
            if renewing:
                renewing.advance(step)
            idx = [rng.randrange(len(train_texts)) for _ in range(args.batch - n_real)]
            lines = [train_lines[i] for i in idx]
            targets = [encode_text(train_texts[i]) for i in idx]
            for _ in range(n_real):
                j = rng.randrange(len(real_images))
                lines.append(reader_line(reader_data.augment_real(real_images[j], rng))[0])
                targets.append(real_targets[j])
            logp = model(as_batch(np.stack(lines), device))  # N x T x C
            t_len = logp.shape[1]
            loss = ctc(
                logp.permute(1, 0, 2),
                torch.tensor([k for t in targets for k in t], dtype=torch.long, device=device),
                torch.full((len(targets),), t_len, dtype=torch.long, device=device),
                torch.tensor([len(t) for t in targets], dtype=torch.long, device=device),
            )
            value = optimise(loss, model, optimiser, schedule, clip=5.0)
            step += 1
            loss_avg = 0.98 * loss_avg + 0.02 * value if step > 1 else value
            bar.update(1)
            bar.set_postfix(loss=f"{loss_avg:.3f}")
            if step % 250 == 0 or step == args.steps:
                save_checkpoint(checkpoint, model, optimiser, schedule, step, rng)
            if step % 1000 == 0 or step == args.steps:
                syn = evaluate(model, held_lines[:1000], held_texts[:1000])
                real = evaluate(model, eval_lines, eval_texts)
                fresh = (
                    f", {renewing.replaced} chunks renewed ({renewing.waited_s:.0f} s waited for "
                    "them)"
                    if renewing
                    else ""
                )
                bar.write(
                    f"step {step}: held-out synthetic {syn:.3f}, CCPD eval half {real:.3f}{fresh}"
                )
    finally:
        if renewing:
            renewing.close()
    bar.close()
    minutes = (time.monotonic() - started) / 60
    trained: dict[str, object] = {
        "steps": step,
        "train_minutes": round(minutes, 2),
        "device": device,
    }
    if renewing:
        trained["renewed_chunks"] = renewing.replaced
        trained["render_wait_minutes"] = round(renewing.waited_s / 60, 2)
    return finish(model, held_lines, held_texts, eval_lines, eval_texts, Path(args.out), trained)


def finish(
    model: ReaderNet,
    held_lines: np.ndarray,
    held_texts: list[str],
    eval_lines: np.ndarray,
    eval_texts: list[str],
    out: Path,
    trained: dict[str, object],
) -> int:
    """Measure the trained weights, export them to ``out/plate_reader.xml`` with their metrics;
    where OpenVINO is not installed, say how to export the checkpoint elsewhere."""
    model.eval()
    metrics = {
        **trained,
        "widths": list(model.widths),
        "heldout_synthetic_exact": evaluate(model, held_lines, held_texts),
        "ccpd_eval_half_exact": evaluate(model, eval_lines, eval_texts),
    }
    print(json.dumps(metrics))
    out.mkdir(parents=True, exist_ok=True)
    (out / "plate_reader.metrics.json").write_text(json.dumps(metrics, indent=1))
    try:
        import openvino  # noqa: F401
    except ImportError:
        print(
            "openvino is not installed here: the weights are in the checkpoint; export them "
            "where it is with python -m models.recipes.train_reader --export CKPT"
        )
        return 0
    model = model.cpu().to(memory_format=torch.contiguous_format)
    export_ir(model, (1, 1, 32, 128), out / "plate_reader.xml", dynamic_batch=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
