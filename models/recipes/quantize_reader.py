"""Quantize the reader to INT8 (``models/plate_reader.int8.xml``) for edge boxes with slow CPUs.

    python -m models.recipes.quantize_reader [--reader models/plate_reader.xml] [--out models]
                                             [--max-drop 0.005]

Post-training quantization with NNCF (``pip install -e .[train]``; no torch needed): the
committed float reader, calibrated on renders of the wide reader's own training seed and on
crops of the CCPD training half, every convolution in INT8 but the first (one gray channel in:
cheap in float, and the one whose rounding changed the most readings). Then the quantized
reader is checked against the float one on other renders and the whole CCPD training half
(never the held-out renders, the bench's seeds or the CCPD eval half): where the network's
exact rate (greedy, before the normaliser) falls by more than ``--max-drop``, nothing is
written. Deterministic (seeded renders, NNCF's fixed sampling); a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from edge_agent.anpr import ctc
from edge_agent.anpr.engine import INT8_CONFIG, READER_INT8_XML
from edge_agent.anpr.preprocess import reader_line, standardise
from models.recipes import reader_data

ROOT = Path(__file__).resolve().parents[2]
#: Renders the quantizer calibrates on: the wide reader's training seed (``models/README.md``).
CALIBRATION_SEED = 5001
CALIBRATION_RENDERS = 1000
#: CCPD training-half crops added to the calibration (real contrast and noise).
CALIBRATION_REAL = 200
#: Renders the quantized reader is checked on: the seed of its CPU fine-tune (wide 2).
CHECK_SEED = 5002
CHECK_RENDERS = 3000


def reads(compiled: object, x: np.ndarray) -> list[str]:
    """The network's greedy readings of standardised lines, in batches of 256."""
    out: list[str] = []
    for i in range(0, len(x), 256):
        logp = compiled(x[i : i + 256])[0]  # type: ignore[operator]
        out += [ctc.greedy(np.asarray(row))[0] for row in logp]
    return out


def exact(got: list[str], truth: list[str]) -> float:
    return sum(g == t for g, t in zip(got, truth, strict=True)) / max(1, len(truth))


def real_lines() -> tuple[np.ndarray, list[str]]:
    lines, texts = [], []
    for path, plate in reader_data.ccpd_split("train"):
        rgb = reader_data.read_rgb(path)
        if rgb is not None:
            lines.append(reader_line(rgb)[0])
            texts.append(plate)
    if not lines:
        raise SystemExit(
            f"no CCPD training crops under {reader_data.SHARED / 'ccpd-crops-dev'}: "
            "the check needs real crops"
        )
    return np.stack(lines), texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reader", default=str(ROOT / "models" / "plate_reader.xml"))
    parser.add_argument("--out", default=str(ROOT / "models"))
    parser.add_argument(
        "--max-drop",
        type=float,
        default=0.005,
        help="the most the network's exact rate may fall, on either check set (default 0.005)",
    )
    args = parser.parse_args()
    reader = Path(args.reader)
    if not reader.is_file() or reader.suffix != ".xml":
        parser.error(f"--reader {reader}: no such IR (.xml) file")
    if not 0.0 <= args.max_drop < 1.0:
        parser.error(f"--max-drop {args.max_drop}: not a share between 0 and 1")
    try:
        import nncf
        import openvino as ov
    except ImportError as e:
        raise SystemExit(f"{e.name} is not installed: pip install -e .[train]") from None

    started = time.monotonic()
    core = ov.Core()
    model = core.read_model(reader)
    cal_lines, _, _ = reader_data.synthetic(CALIBRATION_RENDERS, CALIBRATION_SEED, moto_share=0.25)
    real_x, real_texts = real_lines()
    check_lines, check_texts, _ = reader_data.synthetic(CHECK_RENDERS, CHECK_SEED)
    cal_x = standardise(np.concatenate([cal_lines, real_x[:CALIBRATION_REAL]]))
    check_x = standardise(check_lines)

    convolutions = [op for op in model.get_ordered_ops() if op.get_type_name() == "Convolution"]
    if not convolutions:
        raise SystemExit(f"{reader}: no convolutions, not the plate reader")
    quantized = nncf.quantize(
        model,
        nncf.Dataset([cal_x[i : i + 1] for i in range(len(cal_x))]),
        subset_size=len(cal_x),
        ignored_scope=nncf.IgnoredScope(names=[convolutions[0].get_friendly_name()]),
    )

    float_reader = core.compile_model(model, "CPU")
    int8_reader = core.compile_model(quantized, "CPU", INT8_CONFIG)
    metrics: dict[str, object] = {"source": reader.name}
    refused = []
    for name, x, truth in (
        (f"renders_seed_{CHECK_SEED}", check_x, check_texts),
        ("ccpd_train_half", standardise(real_x), real_texts),
    ):
        before, after = reads(float_reader, x), reads(int8_reader, x)
        drop = exact(before, truth) - exact(after, truth)
        metrics[name] = {
            "n": len(truth),
            "float_exact": round(exact(before, truth), 4),
            "int8_exact": round(exact(after, truth), 4),
            "same_reading": round(exact(after, before), 4),
        }
        if drop > args.max_drop:
            refused.append(f"{name}: exact rate down {drop:.4f}")
    metrics["minutes"] = round((time.monotonic() - started) / 60, 2)
    print(json.dumps(metrics))
    if refused:
        print(f"not written: {'; '.join(refused)} (more than --max-drop {args.max_drop})")
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, out / READER_INT8_XML)
    (out / READER_INT8_XML).with_suffix(".metrics.json").write_text(json.dumps(metrics, indent=1))
    print(f"wrote {out / READER_INT8_XML}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
