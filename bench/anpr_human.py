"""Yardstick: a person's reading of the far plates of the synthetic held-out set against the
reader's. The crops under 80 px wide (a plate 15-25 m away) are where the reader's misses are;
this says how many of them a person reads at all. Two steps:

    python bench/anpr_human.py sheets DIR     # contact sheets of those crops, enlarged, numbered
    python bench/anpr_human.py score FILE     # the readings against the truth and the reader

Read the sheets without the truth at hand. FILE holds a line per crop: its held-out number and
the plate as read, letters and digits only (``?`` for a character that cannot be read, ``?``
alone for a plate that cannot); ``#`` starts a comment. ``score`` prints one JSON line: the
person's exact rate, the same with the province character of Chinese plates left out (the lane's
``plate_key`` leaves it out too), the reader's exact rate on the same crops (the reader a gate box
on this CPU runs) and, for each crop the reader misses, what the person read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from testkit.plates import heldout, text_of

FAR = 80  # px: as bench/anpr.py's narrowest width class
PER_SHEET = 12


def far_crops(n: int) -> list[tuple[int, str, np.ndarray]]:
    return [(i, spec.text, crop) for i, spec, _, crop in heldout(n) if crop.shape[1] < FAR]


def sheets(out: Path, n: int) -> int:
    out.mkdir(parents=True, exist_ok=True)
    crops = far_crops(n)
    for s in range(0, len(crops), PER_SHEET):
        tiles = []
        for i, _, crop in crops[s : s + PER_SHEET]:
            h, w = crop.shape[:2]
            big = cv2.resize(crop, (330, round(h * 330 / w)), interpolation=cv2.INTER_CUBIC)
            label = np.full((big.shape[0], 70, 3), 255, np.uint8)
            cv2.putText(label, str(i), (4, big.shape[0] // 2 + 6), 0, 0.6, (0, 0, 0), 2)
            tile = np.hstack([label, big])
            tiles.append(np.pad(tile, ((5, 5), (0, 0), (0, 0)), constant_values=180))
        cv2.imwrite(str(out / f"sheet_{s // PER_SHEET:02d}.png"), np.vstack(tiles)[..., ::-1])
    print(f"{len(crops)} crops under {FAR} px on {-(-len(crops) // PER_SHEET)} sheets in {out}")
    return 0


def readings(path: Path) -> dict[int, str]:
    if not path.is_file():
        raise SystemExit(f"{path}: no such file (a person's reading, one 'NUMBER PLATE' a line)")
    read: dict[int, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise SystemExit(f"{path}:{number}: want 'NUMBER PLATE', got {line!r}")
        read[int(parts[0])] = parts[1].upper()
    return read


def score(path: Path, n: int) -> int:
    from edge_agent.anpr.engine import Anpr

    person = readings(path)
    crops = far_crops(n)
    missing = sorted({i for i, _, _ in crops} - set(person))
    if missing:
        more = "..." if len(missing) > 10 else ""
        raise SystemExit(f"{path}: no reading for crops {missing[:10]}{more}")
    anpr = Anpr(precision="auto")
    exact = without_province = reader_exact = 0
    reader_misses = []
    for i, truth, crop in crops:
        said = person[i]
        exact += said == truth
        chinese = not truth[0].isascii()
        without_province += said == truth or (chinese and said[1:] == truth[1:])
        got = text_of(anpr.read_crop(crop))
        reader_exact += got == truth
        if got != truth:
            reader_misses.append({"n": i, "truth": truth, "reader": got, "person": said})
    total = len(crops)
    print(
        json.dumps(
            {
                "crops": total,
                "person_exact": round(exact / total, 4),
                "person_exact_without_province": round(without_province / total, 4),
                "reader": anpr.precision,
                "reader_exact": round(reader_exact / total, 4),
                "reader_misses": reader_misses,
            },
            ensure_ascii=False,
        )
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=1000, help="as bench/anpr.py")
    sub = parser.add_subparsers(dest="step", required=True)
    sub.add_parser("sheets").add_argument("out", type=Path)
    sub.add_parser("score").add_argument("file", type=Path)
    args = parser.parse_args()
    if args.step == "sheets":
        return sheets(args.out, args.synthetic)
    return score(args.file, args.synthetic)


if __name__ == "__main__":
    sys.exit(main())
