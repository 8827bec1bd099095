"""``cuakhau anpr read PATH... [--crop] [--json]``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def read(args: argparse.Namespace) -> int:
    from edge_agent.anpr.engine import Anpr, ModelMissingError
    from edge_agent.anpr.images import load_image
    from edge_agent.anpr.preprocess import ImageError

    try:
        anpr = Anpr(args.models, precision=args.reader)
    except ModelMissingError as exc:
        print(f"cuakhau: {exc}", file=sys.stderr)
        return 2
    failures = 0
    for path in args.paths:
        started = time.perf_counter()
        try:
            image = load_image(path)
            results = [anpr.read_crop(image)] if args.crop else anpr.read_frame(image)
        except ImageError as exc:
            failures += 1
            line: dict[str, Any] = {"file": path, "error": str(exc)}
            print(
                json.dumps(line, ensure_ascii=False) if args.json else f"{path}: {exc}", flush=True
            )
            continue
        ms = round((time.perf_counter() - started) * 1000, 2)
        plates = [r.as_json() for r in results]
        if args.json:
            print(
                json.dumps({"file": path, "plates": plates, "ms": ms}, ensure_ascii=False),
                flush=True,
            )
        else:
            shown = (
                ", ".join(
                    f"{p['display'] or p['text'] + ' (?)'} {p['confidence']:.2f}" for p in plates
                )
                or "no plate"
            )
            print(f"{path}: {shown} ({ms} ms)", flush=True)
    return 1 if failures else 0


def add_commands(sub: Any) -> None:
    anpr = sub.add_parser("anpr", help="plate recognition").add_subparsers(
        dest="anpr_command", required=True
    )
    r = anpr.add_parser("read", help="read plates in images")
    r.add_argument("paths", nargs="+", metavar="PATH")
    r.add_argument(
        "--crop", action="store_true", help="the images are already plate crops (reader only)"
    )
    r.add_argument("--json", action="store_true", help="one JSON line per image")
    r.add_argument("--models", default=None, help="folder with the IR files (default: models/)")
    r.add_argument(
        "--reader",
        choices=("auto", "float", "int8"),
        default="auto",
        help="which reader: auto (default, as a gate box chooses: float on a CPU with bf16, "
        "else INT8), float or int8 (models/README.md)",
    )
    r.set_defaults(func=read)
