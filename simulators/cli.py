"""``cuakhau sim ...``: simulated devices for testers."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from collections.abc import Callable
from typing import Any


def _wait_until_stopped() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def _serve(
    control_port: int,
    state: Callable[[], Any],
    actions: dict[str, Callable[[dict[str, Any]], Any]],
    info: dict[str, Any],
    stop: Callable[[], None],
) -> int:
    """Run a simulator's HTTP control port, print where things are, wait for Ctrl-C/SIGTERM."""
    from simulators.control_http import ControlServer

    control = ControlServer("127.0.0.1", control_port, state, actions)
    control.start()
    print(json.dumps({**info, "control": f"http://127.0.0.1:{control.port}"}), flush=True)
    try:
        _wait_until_stopped()
    finally:
        control.stop()
        stop()
    return 0


def run_scale(args: argparse.Namespace) -> int:
    from simulators.scale.simulator import ScaleSimulator

    sim = ScaleSimulator(args.protocol, rate_hz=args.rate)
    sim.start()
    if args.weight:
        sim.set_weight(args.weight)

    def fault(body: dict[str, Any]) -> str:
        sim.inject(str(body["kind"]), float(body.get("seconds", 2.0)))
        return "injected"

    def weight(body: dict[str, Any]) -> float:
        kg = float(body["kg"])
        sim.set_weight(kg)
        return kg

    return _serve(
        args.control_port,
        sim.state,
        {
            "weight": weight,
            "fault": fault,
            "overload": lambda b: sim.set_overload(bool(b.get("on", True))),
        },
        {"pty": sim.path, "protocol": args.protocol},
        sim.stop,
    )


def run_barrier(args: argparse.Namespace) -> int:
    from simulators.barrier.simulator import BarrierSimulator

    sim = BarrierSimulator(unit=args.unit, travel_s=args.travel)
    sim.start()

    def fault(body: dict[str, Any]) -> str:
        mode = body.get("mode")
        if mode not in ("none", "stuck", "no_limit", "silent"):
            raise ValueError("mode is one of none, stuck, no_limit, silent")
        sim.set_fault(mode)
        return str(mode)

    return _serve(
        args.control_port,
        sim.state,
        {"vehicle": lambda b: sim.set_vehicle(bool(b["present"])), "fault": fault},
        {"pty": sim.path, "unit": args.unit},
        sim.stop,
    )


def run_camera(args: argparse.Namespace) -> int:
    from simulators.camera import CameraSimulator

    cam = CameraSimulator(port=args.port, fps=args.fps, video_path=args.video).start()
    if args.plate:
        cam.show(args.plate, two_line=args.two_line)

    def show(body: dict[str, Any]) -> str:
        cam.show(
            str(body["plate"]), two_line=bool(body.get("two_line", False)), night=body.get("night")
        )
        return str(body["plate"])

    return _serve(
        args.control_port,
        cam.state,
        {"show": show, "clear": lambda b: cam.clear()},
        {"stream": cam.url},
        cam.stop,
    )


def run_scenario(args: argparse.Namespace) -> int:
    from simulators.scenario_cli import run_scenario_file

    return run_scenario_file(args.file, keep=args.keep)


def add_commands(sub: Any) -> None:
    from simulators.scale.simulator import PROTOCOLS

    sim = sub.add_parser("sim", help="simulated devices").add_subparsers(
        dest="sim_command", required=True
    )
    scale = sim.add_parser("scale", help="a weighing indicator on a pty")
    scale.add_argument("--protocol", choices=PROTOCOLS, required=True)
    scale.add_argument(
        "--pty",
        action="store_true",
        default=True,
        help="create a pty and print its path (the default and only transport)",
    )
    scale.add_argument("--rate", type=float, default=10.0, help="frames per second (default 10)")
    scale.add_argument("--weight", type=float, default=0.0, help="initial weight in kg")
    scale.add_argument(
        "--control-port",
        type=int,
        default=0,
        help="HTTP control port (default: a free one, printed)",
    )
    scale.set_defaults(func=run_scale)
    barrier = sim.add_parser("barrier", help="a Modbus RTU barrier board on a pty")
    barrier.add_argument("--pty", action="store_true", default=True)
    barrier.add_argument("--unit", type=int, default=1)
    barrier.add_argument("--travel", type=float, default=2.0, help="arm travel time in seconds")
    barrier.add_argument("--control-port", type=int, default=0)
    barrier.set_defaults(func=run_barrier)
    camera = sim.add_parser("camera", help="an HTTP MJPEG camera showing trucks with plates")
    camera.add_argument("--port", type=int, default=0, help="stream port (default: a free one)")
    camera.add_argument("--fps", type=float, default=15.0)
    camera.add_argument("--plate", help="show a truck with this plate from the start")
    camera.add_argument("--two-line", action="store_true")
    camera.add_argument("--video", help="also write the frames to this video file (MJPG)")
    camera.add_argument("--control-port", type=int, default=0)
    camera.set_defaults(func=run_camera)
    scenario = sim.add_parser("scenario", help="drive a day at the gate from a TOML file")
    scenario.add_argument("file", help="scenario TOML (see simulators/scenarios/)")
    scenario.add_argument("--keep", action="store_true", help="keep the work folder")
    scenario.set_defaults(func=run_scenario)
