"""Serial benchmark: parser throughput per protocol, and pty end-to-end latency.

Throughput: frames per second each parser reads from a large buffer of valid frames (one core).
Latency: a simulated indicator writes frames to a real pty; the time from a frame's write to the
reading being available from ``ScaleReader`` (p50/p95 over ``--frames`` frames per protocol).
Prints one JSON line.

    python bench/scale_serial.py [--frames 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from edge_agent.devices.scale.protocols import make_parser
from edge_agent.devices.scale.reader import ScaleReader
from edge_agent.devices.serial_port import SerialSettings
from simulators.scale import frames
from simulators.scale.simulator import PROTOCOLS, ScaleSimulator

SAMPLES = {
    "xk3190": lambda kg: frames.xk3190(kg),
    "xk3190-a12": lambda kg: frames.xk3190_a12(kg),
    "toledo": lambda kg: frames.toledo(kg),
    "mtsics": lambda kg: frames.mtsics(kg),
    "stgs": lambda kg: frames.stgs(kg),
}


def throughput(protocol: str, n: int = 100_000) -> float:
    data = b"".join(SAMPLES[protocol](20000 + (i % 500) * 10) for i in range(n))
    parser = make_parser(protocol)
    started = time.perf_counter()
    got = 0
    for i in range(0, len(data), 4096):
        got += len(parser.feed(data[i : i + 4096]))
    elapsed = time.perf_counter() - started
    assert got == n, f"{protocol}: read {got} of {n}"
    return n / elapsed


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def latency(protocol: str, count: int) -> dict[str, float]:
    sim = ScaleSimulator(protocol, rate_hz=50)
    written: list[float] = []
    read: list[float] = []
    done = threading.Event()

    def on_frame(_frame: bytes, _at: float) -> None:
        written.append(time.monotonic())

    def on_reading(_reading: object) -> None:
        read.append(time.monotonic())
        if len(read) >= count:
            done.set()

    sim.on_frame = on_frame
    reader = ScaleReader(
        SerialSettings(url=sim.path),
        make_parser(protocol),
        on_reading=on_reading,
        poll_interval_s=0.02,
    )
    reader.start()
    time.sleep(0.3)  # the reader has the port open before the first frame
    sim.start()
    sim.set_weight(24560)
    done.wait(count / 40 + 10)
    sim.stop()
    reader.stop()
    pairs = list(zip(written, read, strict=False))[5:]  # skip the start-up frames
    deltas = [(r - w) * 1000 for w, r in pairs if r >= w]
    return {
        "p50_ms": round(_pct(deltas, 50), 3),
        "p95_ms": round(_pct(deltas, 95), 3),
        "frames": len(deltas),
        "rejected": reader.parser.rejected_total,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    result: dict[str, object] = {"throughput_frames_per_s": {}, "pty_latency": {}}
    for protocol in PROTOCOLS:
        print(f"{protocol}...", file=sys.stderr, flush=True)
        result["throughput_frames_per_s"][protocol] = round(throughput(protocol))  # type: ignore[index]
        result["pty_latency"][protocol] = latency(protocol, args.frames)  # type: ignore[index]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
