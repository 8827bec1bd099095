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


def probe_box(args: argparse.Namespace) -> int:
    from edge_agent.box_probe import Check, run_probe
    from edge_agent.config import load_config

    config = load_config(args.config)

    def report(check: Check) -> None:
        mark = "ok  " if check.ok else "FAIL"
        print(f"[{mark}] {check.name}: {check.detail}", flush=True)
        if check.fix:
            print(f"       -> {check.fix}", flush=True)

    print(f"probing box {config.device} ({args.config})", flush=True)
    checks = run_probe(config, central=args.central, listen_s=args.listen, report=report)
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)} of {len(checks)} checks passed", flush=True)
    return 1 if failed else 0


def add_provision_commands(provision: Any) -> None:
    """``cuakhau provision probe``: the technician's checklist for a configured box."""
    box = provision.add_parser("probe", help="check every device of a configured box")
    box.add_argument("--config", required=True, help="the box's TOML file")
    box.add_argument("--central", help="central's URL, to compare clocks")
    box.add_argument("--listen", type=float, default=5.0, help="seconds to wait per device")
    box.set_defaults(func=probe_box)
