"""``cuakhau``: the single command line of the project."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge_agent.config import AgentConfig


def _central_serve(args: argparse.Namespace) -> int:
    import msgspec

    from central.config import CentralConfig, load_central_config
    from central.serve import serve

    config = load_central_config(args.config) if args.config else CentralConfig()
    overrides = {
        k: v
        for k, v in (("db", args.db), ("http_host", args.host), ("http_port", args.port))
        if v is not None
    }
    config = msgspec.structs.replace(config, **overrides)
    mqtt = config.mqtt
    for field, value in (
        ("host", args.mqtt_host),
        ("port", args.mqtt_port),
        ("protocol", args.mqtt_protocol),
    ):
        if value is not None:
            mqtt = msgspec.structs.replace(mqtt, **{field: value})
    config = msgspec.structs.replace(config, mqtt=mqtt)
    serve(config, embedded_broker=args.embedded_broker, broker_port=args.broker_port)
    return 0


def _agent_config(path: str) -> AgentConfig:
    from edge_agent.config import load_config

    return load_config(path)


def _agent_run(args: argparse.Namespace) -> int:
    from edge_agent.runner import run_agent

    run_agent(_agent_config(args.config))
    return 0


def _agent_status(args: argparse.Namespace) -> int:
    import json

    from edge_agent.store import EdgeStore

    config = _agent_config(args.config)
    try:
        store = EdgeStore(config.store.path, synchronous=config.store.synchronous, create=False)
    except FileNotFoundError:
        print(
            f"cuakhau: no store at {config.store.path} (from {args.config}); has the agent"
            " run with this config? `cuakhau agent run --config ...` creates it",
            file=sys.stderr,
        )
        return 2
    print(
        json.dumps(
            {
                "device": config.device,
                "gate": config.gate,
                "store": str(store.path),
                "last_seq": store.last_seq(),
                "acked_seq": store.acked_seq(),
                "pending": store.pending_count(),
                "declarations": store.declarations.count(),
                "declaration_cursor": store.declarations.cursor(config.gate),
            }
        )
    )
    return 0


def _agent_operator(args: argparse.Namespace) -> int:
    from edge_agent.lane.operator import submit, wait_outcome
    from edge_agent.store import EdgeStore

    config = _agent_config(args.config)
    checkpoints = [lane.policy.checkpoint for lane in config.lanes]
    if args.checkpoint not in checkpoints:
        print(
            f"cuakhau: no lane {args.checkpoint!r} on this box; lanes: {checkpoints}",
            file=sys.stderr,
        )
        return 2
    if args.action == "open" and not args.reason.strip():
        print("cuakhau: a manual open needs --reason (it is recorded)", file=sys.stderr)
        return 2
    try:
        store = EdgeStore(config.store.path, synchronous=config.store.synchronous, create=False)
    except FileNotFoundError:
        print(
            f"cuakhau: no store at {config.store.path}: is the agent running with this config?",
            file=sys.stderr,
        )
        return 2
    command_id = submit(store, args.checkpoint, args.action, args.by, args.reason)
    outcome = wait_outcome(store, command_id, args.wait)
    store.close()
    print(outcome or f"not taken within {args.wait:g} s (is the agent running?)")
    return 0 if outcome in ("opening", "reset") else 1


def _verify_crossing(args: argparse.Namespace) -> int:
    from pathlib import Path

    import msgspec

    from protocol.errors import UserError
    from protocol.evidence import Evidence, verify

    try:
        evidence = msgspec.json.decode(Path(args.export).read_bytes(), type=Evidence)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UserError(
            f"{args.export}: not an evidence export (GET /api/crossings/ID/evidence): {exc}"
        ) from None
    if evidence.crossing.get("id") != args.id:
        raise UserError(f"{args.export} is the evidence of crossing {evidence.crossing.get('id')}")
    verdict = verify(evidence)
    for ok, what in verdict.checks:
        print(f"[{'ok  ' if ok else 'FAIL'}] {what}")
    print(
        f"crossing {args.id} of {evidence.device}: {'verified' if verdict.ok else 'NOT VERIFIED'}"
    )
    return 0 if verdict.ok else 1


def _demo(args: argparse.Namespace) -> int:
    from cuakhau.demo import run_demo

    return run_demo(duration=args.duration, http_port=args.port, workdir=args.workdir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cuakhau", description="cuakhau digital border gate")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    central = sub.add_parser("central", help="the central sync server").add_subparsers(
        dest="central_command", required=True
    )
    serve = central.add_parser("serve", help="run central: HTTP API + MQTT ingest")
    serve.add_argument("--config", help="TOML file (CentralConfig)")
    serve.add_argument("--db", help="SQLite file (default cuakhau-central.db)")
    serve.add_argument("--host", help="HTTP listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (default 8080)")
    serve.add_argument("--mqtt-host")
    serve.add_argument("--mqtt-port", type=int)
    serve.add_argument("--mqtt-protocol", type=int, choices=(3, 5))
    serve.add_argument(
        "--embedded-broker", action="store_true", help="start the in-process amqtt broker"
    )
    serve.add_argument("--broker-port", type=int, help="embedded broker port (default: a free one)")
    serve.set_defaults(func=_central_serve)
    from central.admin_cli import add_commands as add_account_commands

    add_account_commands(central)

    agent = sub.add_parser("agent", help="the gate-box agent").add_subparsers(
        dest="agent_command", required=True
    )
    run = agent.add_parser("run", help="run the agent")
    run.add_argument("--config", required=True, help="agent TOML file")
    run.set_defaults(func=_agent_run)
    status = agent.add_parser("status", help="print the local store's state as JSON")
    status.add_argument("--config", required=True)
    status.set_defaults(func=_agent_status)

    operator = agent.add_parser("operator", help="a local operator's command to a lane")
    operator.add_argument("--config", required=True)
    operator.add_argument("--checkpoint", required=True)
    operator.add_argument("--action", choices=("open", "reset_fault"), required=True)
    operator.add_argument("--by", required=True, help="who gives the command (recorded)")
    operator.add_argument("--reason", default="", help="why (required for open)")
    operator.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the lane")
    operator.set_defaults(func=_agent_operator)

    verify = sub.add_parser("verify", help="check evidence offline").add_subparsers(
        dest="verify_command", required=True
    )
    crossing = verify.add_parser("crossing", help="one crossing's evidence, against the box's key")
    crossing.add_argument("id", type=int, help="the crossing's id")
    crossing.add_argument("--export", required=True, help="GET /api/crossings/ID/evidence, saved")
    crossing.set_defaults(func=_verify_crossing)

    demo = sub.add_parser("demo", help="central + embedded broker + one agent, synthetic traffic")
    demo.add_argument("--duration", type=float, default=0, help="stop after N seconds (0: Ctrl-C)")
    demo.add_argument(
        "--port", type=int, default=None, help="HTTP port (default 8080 or a free one)"
    )
    demo.add_argument(
        "--workdir", default=None, help="where the demo keeps its files (default: temp)"
    )
    demo.set_defaults(func=_demo)
    from edge_agent.anpr.cli import add_commands as add_anpr_commands
    from edge_agent.devices.cli import add_commands as add_probe_commands
    from edge_agent.devices.cli import add_provision_commands as add_box_probe_commands
    from provisioning.enrol import add_commands as add_provision_commands
    from simulators.cli import add_commands as add_sim_commands

    add_anpr_commands(sub)
    add_probe_commands(sub)
    add_sim_commands(sub)
    provision = sub.add_parser("provision", help="the technician's tools").add_subparsers(
        dest="provision_command", required=True
    )
    add_provision_commands(provision)
    add_box_probe_commands(provision)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from cuakhau.logs import configure_logging
    from protocol.errors import UserError

    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        result: int = args.func(args)
    except UserError as exc:  # what, where, how to fix: no traceback
        print(f"cuakhau: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
