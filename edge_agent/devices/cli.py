"""``cuakhau probe ...``: what a technician runs against hardware on site."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any


def probe_scale(args: argparse.Namespace) -> int:
    from edge_agent.devices.scale.probe import probe

    try:
        found = probe(
            args.port, args.listen, progress=lambda m: print(m, file=sys.stderr, flush=True)
        )
    except OSError as exc:
        print(f"cuakhau: {exc}", file=sys.stderr)
        return 2
    if found is None:
        print(f"cuakhau: no known indicator protocol heard on {args.port}", file=sys.stderr)
        return 1
    print(json.dumps(dataclasses.asdict(found)))
    return 0


def add_commands(sub: Any) -> None:
    probe = sub.add_parser("probe", help="probe hardware on a serial port").add_subparsers(
        dest="probe_command", required=True
    )
    scale = probe.add_parser("scale", help="detect an indicator's protocol, baud and framing")
    scale.add_argument("port", help="serial port or pyserial URL (/dev/ttyUSB0, socket://...)")
    scale.add_argument("--listen", type=float, default=1.5, help="seconds per setting tried")
    scale.set_defaults(func=probe_scale)
