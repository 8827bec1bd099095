"""ANPR benchmark: accuracy per set and CPU latency, through the OpenVINO runtime. One JSON line.

Sets: synthetic held-out (rendered with a seed never used in training), CCPD crops (all 500, and
the half never trained on), Vietnamese crops (machine-made labels: *agreement*, not accuracy)
split into one-line and two-line, over all crops and over the crops whose label is a well-formed
plate (a label such as ``59-01856.19``, a digit where the series letter must be, is wrong
whatever the crop shows: those are counted, not scored). Each exact rate comes with its 95 %
interval (``exact_95``): a set of 1,000 plates cannot tell 98.5 % from 99 %. Real frames
(``real``, from ``../shared/datasets``, the parts the detector never learnt from; see
``bench/anpr_real.py``): detection recall at IoU 0.5, false boxes per frame and, where plate
texts exist, end-to-end exact reading. Latency: full 1280x720 frames (detector + reader, one
plate), reader only per crop. ``--dump DIR`` writes the
VN disagreements and the synthetic held-out misses (each crop as rendered, a PNG) to look at.

    python bench/anpr.py [--synthetic 1000] [--frames 200] [--dump DIR] [--models DIR]
                         [--reader auto|float|int8] [--no-second-look]

The reader is the one a gate box on this CPU runs (``auto``: float where the CPU has bf16, else
INT8) unless ``--reader`` forces one; the JSON says which ran (``reader``) and on what CPU
(``cpu``): compare latencies only on one CPU.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from edge_agent.anpr.engine import PRECISIONS, Anpr, PlateResult
from edge_agent.anpr.images import load_image
from edge_agent.anpr.normaliser import normalise
from edge_agent.anpr.preprocess import ImageError, is_two_line
from edge_agent.config import IdentifySettings
from testkit.plates import heldout, text_of
from testkit.real_frames import SETS, measure

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SEED_SCENES = 777001
#: Crop width buckets of the synthetic set: (name, upper bound in pixels, exclusive).
WIDTHS = (("<80px", 80), ("80-159px", 160), (">=160px", 1 << 30))
#: A read this sure of a plate the lane knows decides on one frame (the lane's default).
SURE_ENOUGH = IdentifySettings().fast_confidence


def distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


#: (reading, truth, how sure the runtime is of a plate: 0.0 where it found none)
Pair = tuple[str, str, float]


def pair(result: PlateResult, truth: str) -> Pair:
    return text_of(result), truth, result.confidence if result.plate else 0.0


def score(pairs: list[Pair]) -> dict[str, object]:
    """Exact rate with its interval, character error rate, and ``sure``: the reads as sure as
    the lane needs to decide on one frame alone (``IdentifySettings.fast_confidence``), their
    share of the set and how many of them are wrong (these matter most: an unsure
    reading waits for more frames, a sure wrong one can name the wrong truck)."""
    if not pairs:
        return {"n": 0}
    exact = sum(p == t for p, t, _ in pairs)
    errors = sum(distance(p, t) for p, t, _ in pairs)
    chars = sum(len(t) for _, t, _ in pairs)
    sure = [p == t for p, t, c in pairs if c >= SURE_ENOUGH]
    wrong = sure.count(False)
    return {
        "n": len(pairs),
        "exact": round(exact / len(pairs), 4),
        "exact_95": wilson(exact, len(pairs)),
        "cer": round(errors / max(1, chars), 4),
        "sure": {
            "at": SURE_ENOUGH,
            "share": round(len(sure) / len(pairs), 4),
            "wrong": wrong,
            "wrong_rate": round(wrong / len(sure), 4) if sure else None,
            "wrong_95": wilson(wrong, len(sure)) if sure else None,
        },
    }


def wilson(hits: int, n: int, z: float = 1.96) -> list[float]:
    """The 95 % (Wilson) interval of a rate of ``hits`` in ``n``: how far a figure measured on
    this many plates may be from the rate on endlessly many (1,000 plates at 98 % leave about
    a point either way)."""
    rate = hits / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    spread = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - spread), 4), round(min(1.0, centre + spread), 4)]


def is_plate(text: str) -> bool:
    """Whether ``text`` is, as written, a plate of a known format (no lookalike swapped)."""
    return any(
        (plate := normalise(text, lines)) is not None and not plate.fixed and plate.text == text
        for lines in (1, 2)
    )


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))], 2)


def cpu_identity() -> dict[str, object]:
    """The CPU as OpenVINO sees it: latencies of two CPUs are not comparable."""
    import openvino as ov

    core = ov.Core()
    return {
        "name": core.get_property("CPU", "FULL_DEVICE_NAME"),
        "bf16": "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"),
        "cores": os.cpu_count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--dump", default=None)
    parser.add_argument("--datasets", default=str(SHARED), help="the real sets (see above)")
    parser.add_argument(
        "--models", default=None, help="folder holding both IRs (default: the committed models/)"
    )
    parser.add_argument(
        "--reader",
        choices=PRECISIONS,
        default="auto",
        help="auto (default): the one a gate box on this CPU runs (float with bf16, else INT8)",
    )
    parser.add_argument(
        "--no-second-look",
        action="store_true",
        help="read each crop once (no second look at unsure readings), to compare",
    )
    args = parser.parse_args()
    from simulators.plates.scene import render_scene

    second_look = not args.no_second_look
    anpr = Anpr(args.models, second_look=second_look, precision=args.reader)
    result: dict[str, object] = {
        "second_look": second_look,
        "reader": anpr.precision,
        "asked": args.reader,
        "cpu": cpu_identity(),
    }

    dump = Path(args.dump) if args.dump else None
    if dump:
        dump.mkdir(parents=True, exist_ok=True)
    pairs, crop_ms, misses = [], [], []
    by_width: dict[str, list[Pair]] = {name: [] for name, _ in WIDTHS}
    for i, spec, look, crop in heldout(args.synthetic):
        started = time.perf_counter()
        read = anpr.read_crop(crop)
        crop_ms.append((time.perf_counter() - started) * 1000)
        pairs.append(pair(read, spec.text))
        width = next(name for name, below in WIDTHS if crop.shape[1] < below)
        by_width[width].append(pairs[-1])
        if dump and pairs[-1][0] != spec.text:  # the crop as rendered, to look at by eye
            name = f"heldout_{i:04d}.png"
            cv2.imwrite(str(dump / name), crop[..., ::-1])
            misses.append(
                {
                    "file": name,
                    "truth": spec.text,
                    "read": pairs[-1][0],
                    "confidence": round(pairs[-1][2], 4),
                    "width_px": crop.shape[1],
                    "difficulty": round(look.difficulty, 3),
                }
            )
    if dump:
        (dump / "heldout_misses.json").write_text(json.dumps(misses, ensure_ascii=False, indent=1))
    result["synthetic_heldout"] = score(pairs)
    # how far away a plate may be: the share read exactly by the crop's width in pixels
    result["synthetic_by_crop_width"] = {name: score(p) for name, p in by_width.items()}

    from models.recipes.reader_data import ccpd_split, vn_items

    for part in ("eval", "all"):
        pairs = []
        for path, plate in ccpd_split(part):
            pairs.append(pair(anpr.read_crop(load_image(path)), plate))
        result[f"ccpd_{part}"] = score(pairs)

    # per family: (reading, label, whether the label is a well-formed plate)
    vn: dict[str, list[tuple[Pair, bool]]] = {"one": [], "two": []}
    disagreements = []
    for path, label, _ in vn_items():
        try:
            image = load_image(path)
        except ImageError:
            continue
        truth = "".join(c for c in label.upper() if c.isalnum())
        reading = pair(anpr.read_crop(image), truth)
        got = reading[0]
        well_formed = is_plate(truth)
        vn["two" if is_two_line(image) else "one"].append((reading, well_formed))
        if got != truth:
            disagreements.append(
                {"file": path.name, "label": label, "read": got, "label_is_a_plate": well_formed}
            )
    for family, name in (("one", "one_line"), ("two", "two_line")):
        result[f"vn_{name}_agreement"] = score([reading for reading, _ in vn[family]])
        result[f"vn_{name}_agreement_well_formed_labels"] = {
            **score([reading for reading, ok in vn[family] if ok]),
            "malformed_labels": sum(not ok for _, ok in vn[family]),
        }
    if dump:
        (dump / "vn_disagreements.json").write_text(
            json.dumps(disagreements, ensure_ascii=False, indent=1)
        )

    datasets = Path(args.datasets)
    result["real"] = {
        name: measure(anpr, datasets, real)
        for name, real in SETS.items()
        if (datasets / real.folder / "boxes.csv").exists()
    }

    rng = random.Random(SEED_SCENES)
    frame_ms, found, exact = [], 0, 0
    for i in range(args.frames):
        scene = render_scene(rng)
        started = time.perf_counter()
        reads = anpr.read_frame(scene.image)
        elapsed = (time.perf_counter() - started) * 1000
        if i >= 5:
            frame_ms.append(elapsed)
        if reads:
            found += 1
            exact += any(text_of(r) == scene.specs[0].text for r in reads)
    result["scenes"] = {
        "n": args.frames,
        "plate_found": round(found / args.frames, 4),
        "exact": round(exact / args.frames, 4),
    }
    result["frame_1280x720_ms"] = {"p50": pct(frame_ms, 50), "p95": pct(frame_ms, 95)}
    result["frames_per_s"] = round(1000 / float(np.mean(frame_ms)), 1)
    result["reader_crop_ms"] = {"p50": pct(crop_ms, 50), "p95": pct(crop_ms, 95)}
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
