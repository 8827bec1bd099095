"""A compressed busy day: trucks through several lanes back to back, with each process's memory,
file descriptors and threads and each store's size sampled, and the slope of each printed.

Real Mosquitto, central and one gate box per lane (lanes on simulated camera, weighbridge and
barrier: the shipped scenario's trucks, declared and not), ``--trucks`` in all. Every
``--every`` seconds: resident memory (MiB), open file descriptors, threads of central and of
each box, and the size of each SQLite file with its WAL. The slopes (per 1,000 trucks) are
fitted over the second half of the run, after warm-up; a figure that grows without bound shows
as a slope far from 0 next to its mean.

    python bench/soak.py [--trucks 2000] [--lanes 4] [--every 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from simulators.scenario import ScenarioRun, load_scenario
from testkit.mosquitto import Mosquitto
from testkit.processes import Central

SCENARIO = (
    Path(__file__).resolve().parent.parent / "simulators" / "scenarios" / "huu-nghi-morning.toml"
)


def proc_figures(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss_mib": int(fields["VmRSS"].split()[0]) / 1024,
        "threads": int(fields["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def file_mib(db: Path) -> float:
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists()) / 2**20


def slope(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trucks", type=int, default=2000)
    parser.add_argument("--lanes", type=int, default=4)
    parser.add_argument("--every", type=float, default=5.0)
    args = parser.parse_args()
    scenario = load_scenario(SCENARIO)
    with tempfile.TemporaryDirectory(prefix="cuakhau-soak-") as tmp:
        work = Path(tmp)
        (work / "broker").mkdir()
        broker = Mosquitto(work / "broker")
        broker.start()
        central = Central(work, broker.port)
        runs: list[ScenarioRun] = []
        samples: list[dict[str, Any]] = []
        done = {"trucks": 0}
        stop = threading.Event()
        try:
            central.start()
            for lane in range(args.lanes):
                lane_dir = work / f"lane{lane}"
                lane_dir.mkdir()
                run = ScenarioRun(
                    scenario.__class__(
                        **{
                            **{f: getattr(scenario, f) for f in scenario.__struct_fields__},
                            "name": f"soak lane {lane}",
                        }
                    ),
                    central_url=central.url,
                    token=central.token("admin"),
                    mqtt_port=broker.port,
                    workdir=lane_dir,
                    device=f"soak-box-{lane}",
                    log=lambda _: None,
                )
                run.start()
                runs.append(run)

            def drive(run: ScenarioRun, share: int) -> None:
                for i in range(share):
                    if stop.is_set():
                        return
                    run.drive(i + 1, scenario.trucks[i % len(scenario.trucks)])
                    done["trucks"] += 1

            share = -(-args.trucks // args.lanes)
            drivers = [threading.Thread(target=drive, args=(r, share), daemon=True) for r in runs]
            for d in drivers:
                d.start()
            started = time.monotonic()
            while any(d.is_alive() for d in drivers):
                time.sleep(args.every)
                assert central.process is not None
                sample: dict[str, Any] = {
                    "s": round(time.monotonic() - started, 1),
                    "trucks": done["trucks"],
                    "central": proc_figures(central.process.pid),
                    "central_db_mib": file_mib(central.db),
                }
                for run in runs:
                    assert run.agent is not None
                    sample[run.device] = proc_figures(run.agent.pid)
                    sample[f"{run.device}_db_mib"] = file_mib(run.db)
                samples.append(sample)
                print(
                    f"  {sample['s']:>6} s  {done['trucks']} trucks  central"
                    f" {sample['central']['rss_mib']:.0f} MiB",
                    file=sys.stderr,
                    end="\r",
                )
            print(file=sys.stderr)
        finally:
            stop.set()
            for run in runs:
                run.stop()
            central.stop()
            broker.stop()
    late = samples[len(samples) // 2 :]
    xs = [s["trucks"] / 1000 for s in late]
    out: dict[str, Any] = {"trucks": done["trucks"], "lanes": args.lanes, "samples": len(samples)}
    for who in ["central", *[r.device for r in runs]]:
        for metric in ("rss_mib", "fds", "threads"):
            ys = [s[who][metric] for s in late]
            out[f"{who}_{metric}_mean"] = round(sum(ys) / len(ys), 1) if ys else None
            out[f"{who}_{metric}_per_1000_trucks"] = round(slope(xs, ys), 2)
            if metric == "rss_mib" and samples:
                # where it started and where it ended, to tell warm-up from growth
                out[f"{who}_rss_mib_first_last"] = [
                    round(samples[0][who][metric]),
                    round(samples[-1][who][metric]),
                ]
        key = f"{who}_db_mib"
        ys = [s[key] for s in late]
        out[f"{key}_per_1000_trucks"] = round(slope(xs, ys), 2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
