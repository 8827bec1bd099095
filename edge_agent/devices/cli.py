"""``cuakhau probe ...``: what a technician runs against hardware on site."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocol.errors import UserError

if TYPE_CHECKING:
    from edge_agent.anpr.region import Region


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


def _region(text: str | None) -> Region | None:
    """``x1,y1,x2,y2`` (a rectangle) or ``x,y x,y x,y ...`` (a polygon's corners)."""
    from edge_agent.anpr.region import Region

    if not text:
        return None
    try:
        if " " in text.strip():
            return Region.of_polygon(
                [[int(v) for v in corner.split(",")] for corner in text.split()]
            )
        x1, y1, x2, y2 = (int(v) for v in text.split(","))
        return Region.rectangle(x1, y1, x2, y2)
    except ValueError as exc:
        raise UserError(
            f"--region {text!r}: x1,y1,x2,y2 (a rectangle) or 'x,y x,y x,y ...' (a polygon's"
            f" corners) in whole pixels ({exc})"
        ) from None


def probe_camera(args: argparse.Namespace) -> int:
    """A snapshot from the camera with the lane's region and what the detector finds drawn on
    it, for the technician who aims the camera; the readings as JSON lines."""
    import cv2
    import numpy as np

    from edge_agent.anpr.engine import Anpr, jpeg
    from edge_agent.camera.source import FrameSource

    region = _region(args.region)
    source = FrameSource(args.url).start()
    try:
        frame = source.next_frame(-1, args.wait)
    finally:
        source.stop()
    if frame is None:
        raise UserError(f"{args.url}: no frame within {args.wait:g} s; check the URL and network")
    anpr = Anpr(args.models, precision=args.reader)
    try:
        results = anpr.read_frame(frame.image, region=region)
    except ValueError as exc:
        raise UserError(f"--region: {exc}") from None
    image = np.ascontiguousarray(frame.image.copy())
    if region is not None:
        region.draw(image, (40, 120, 255), 3)
    for result in results:
        if result.bbox is None:
            continue
        x1, y1, x2, y2 = result.bbox
        text = result.plate.display if result.plate else f"? {result.raw}"
        cv2.rectangle(image, (x1, y1), (x2, y2), (40, 220, 40), 2)
        cv2.putText(
            image,
            f"{text} {result.confidence:.2f}",
            (x1, max(12, y1 - 6)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.7,
            (40, 220, 40),
            2,
        )
        print(json.dumps(result.as_json(), ensure_ascii=False))
    Path(args.out).write_bytes(jpeg(image))
    h, w = frame.image.shape[:2]
    print(f"{len(results)} plate(s) in a {w}x{h} frame; snapshot: {args.out}", file=sys.stderr)
    return 0


def add_commands(sub: Any) -> None:
    probe = sub.add_parser("probe", help="probe hardware on a serial port").add_subparsers(
        dest="probe_command", required=True
    )
    camera = probe.add_parser("camera", help="a snapshot with the region and the plates found")
    camera.add_argument("url", help="RTSP, HTTP MJPEG, a video file or a folder of images")
    camera.add_argument(
        "--region",
        help="x1,y1,x2,y2, or 'x,y x,y x,y ...' for a polygon: the lane's region (as configured)",
    )
    camera.add_argument("--out", default="camera-probe.jpg", help="where the snapshot goes")
    camera.add_argument("--wait", type=float, default=10.0, help="seconds to wait for a frame")
    camera.add_argument("--models", help="ANPR model folder (default: the package's)")
    camera.add_argument("--reader", choices=("auto", "float", "int8"), default="auto")
    camera.set_defaults(func=probe_camera)
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
