"""A gate under faults, for ``bench/chaos.py`` and its short seeded run in the tests.

Real processes: Mosquitto, central, and gate boxes whose lanes run on simulated camera,
weighbridge and barrier (``simulators.scenario.ScenarioRun``), each box also producing a
steady stream of made-up events. Each box lives in a network namespace of its own, joined to
the host by a veth pair, so the link between box and broker can be cut, made lossy or slow
(``tc netem``) on addresses this harness creates and nothing else. A seeded schedule injects one
fault at a time: SIGKILL of a box, of central or of Mosquitto; SIGSTOP of central; a partition,
30 % loss, 2 s latency or a flapping link; garbage, torn frames or silence from the
weighbridge; a barrier board that stops answering; a box's disk filling up (its store lives on
a small tmpfs). Trucks keep arriving throughout; a lane left in fault is reset as a technician
would (a ``reset_fault`` command from central).

At the end every fault is healed and every box's backlog drains; then what each box committed
is compared with what central stored, and the barrier simulators' own command logs are checked
for an open without a positive decision or an override, and a close while the loop was
occupied. ``Chaos.run()`` returns the figures ``bench/chaos.py`` prints.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from protocol.codec import decode_event
from protocol.messages import LaneDecision, ManualOverride
from simulators.scenario import Scenario, ScenarioRun, Truck
from testkit.latency_proxy import LatencyProxy
from testkit.mosquitto import Mosquitto
from testkit.processes import Central

FAULTS = (
    "kill_box",
    "kill_central",
    "kill_broker",
    "stop_central",
    "partition",
    "loss",
    "latency",
    "flap",
    "scale_garbage",
    "barrier_silent",
    "disk_full",
)
NETWORK_FAULTS = frozenset({"partition", "loss", "latency", "flap"})


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def netns_available() -> bool:
    """Whether this machine lets us make network namespaces and drop packets (root, iproute2,
    iptables)."""
    if shutil.which("iptables") is None:
        return False
    name = f"ckprobe{os.getpid()}"
    try:
        _ip("netns", "add", name)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return False
    subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
    return True


@dataclass
class Link:
    """A box's own network namespace and the veth pair that joins it to the host."""

    index: int
    name: str = ""
    host_if: str = ""
    ns_if: str = ""
    host_ip: str = ""
    ns_ip: str = ""
    #: the iptables match of the drop rules in place (None: the link is whole)
    _dropping: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        tag = f"{os.getpid() % 100000}{self.index}"
        self.name = f"ckx{tag}"
        self.host_if = f"ckh{tag}"[:15]
        self.ns_if = f"ckn{tag}"[:15]
        subnet = f"10.{200 + self.index}.{os.getpid() % 250}"
        self.host_ip, self.ns_ip = f"{subnet}.1", f"{subnet}.2"

    @property
    def launcher(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def create(self) -> None:
        _ip("netns", "add", self.name)
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        _ip("link", "set", self.ns_if, "netns", self.name)
        _ip("addr", "add", f"{self.host_ip}/24", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        _ip("-n", self.name, "addr", "add", f"{self.ns_ip}/24", "dev", self.ns_if)
        _ip("-n", self.name, "link", "set", self.ns_if, "up")
        _ip("-n", self.name, "link", "set", "lo", "up")

    def _rules(self, action: str, *match: str) -> None:
        """Drop this box's packets both ways at the host's end of its veth (iptables)."""
        for chain, side in (("INPUT", "-i"), ("OUTPUT", "-o")):
            subprocess.run(
                ["iptables", action, chain, side, self.host_if, *match, "-j", "DROP"],
                check=action == "-I",
                capture_output=True,
                timeout=10,
            )

    def partition(self) -> None:
        self.heal()
        self._rules("-I")
        self._dropping = ()

    def lossy(self, percent: int) -> None:
        self.heal()
        match = ("-m", "statistic", "--mode", "random", "--probability", f"{percent / 100:.2f}")
        self._rules("-I", *match)
        self._dropping = match

    def heal(self) -> None:
        if self._dropping is not None:
            self._rules("-D", *self._dropping)
            self._dropping = None

    def destroy(self) -> None:
        self.heal()
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)


@dataclass
class Box:
    """One gate box of the run: its lane and simulators, its link, what befell it."""

    run: ScenarioRun
    link: Link | None
    disk: Path
    #: the box's way to the broker (a slow link when asked)
    proxy: LatencyProxy
    killed: int = 0
    crashes: list[str] = field(default_factory=list)
    trucks: int = 0
    driver_errors: int = 0

    @property
    def device(self) -> str:
        return self.run.device


def _scenario(index: int) -> Scenario:
    trucks = [
        Truck(plate=f"{29 + index}H-{i:03d}.{10 + index:02d}", expect="open", steps=[])
        for i in range(12)
    ] + [
        Truck(plate=f"{51 + index}D-{i:03d}.{20 + index:02d}", expect="hold", declared=False)
        for i in range(4)
    ]
    return Scenario(
        name=f"chaos box {index}",
        gate="CKHN",
        protocol="toledo",
        policy={"checkpoint": "barrier-in", "kind": "barrier-in", "allowed_status": ["accepted"]},
        trucks=trucks,
    )


class Chaos:
    def __init__(
        self,
        workdir: Path,
        *,
        seed: int,
        boxes: int = 2,
        seconds: float = 120,
        event_rate: float = 40.0,
        log: Callable[[str], None] = print,
        network: bool | None = None,
        kinds: Sequence[str] = FAULTS,
    ) -> None:
        self.workdir = workdir
        self.seed = seed
        self.rng = random.Random(seed)
        self.n_boxes = boxes
        self.seconds = seconds
        self.event_rate = event_rate
        self.log = log
        unknown = set(kinds) - set(FAULTS)
        if unknown:
            raise ValueError(f"no such fault: {', '.join(sorted(unknown))}")
        self.kinds = list(kinds)
        self.root = os.geteuid() == 0
        self.network = netns_available() if network is None else network
        self.broker: Mosquitto | None = None
        self.central: Central | None = None
        self.boxes: list[Box] = []
        self.faults: list[dict[str, Any]] = []
        self.central_crashes: list[str] = []
        self.resume_after_heal_s: list[float] = []
        self._stop = threading.Event()
        self._mounts: list[Path] = []
        #: wall clock minus monotonic clock (the barrier logs are in monotonic time)
        self._wall_offset = time.time() - time.monotonic()

    # -- set-up and tear-down --------------------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "broker").mkdir(exist_ok=True)
        # a small queue per client, so a stopped central makes the broker drop messages
        self.broker = Mosquitto(self.workdir / "broker", "max_queued_messages 200\n")
        self.broker.start()
        self.central = Central(self.workdir, self.broker.port)
        self.central.start()
        for i in range(self.n_boxes):
            link = Link(i) if self.network else None
            if link:
                link.create()
            disk = self.workdir / f"box{i}"
            disk.mkdir(exist_ok=True)
            if self.root:  # a small disk of its own, to fill up
                subprocess.run(
                    ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(disk)],
                    check=True,
                    capture_output=True,
                )
                self._mounts.append(disk)
            # the box reaches the broker through its veth pair and a forwarder on the host
            proxy = LatencyProxy(
                link.host_ip if link else "127.0.0.1", ("127.0.0.1", self.broker.port)
            )
            proxy.start()
            run = ScenarioRun(
                _scenario(i),
                central_url=self.central.url,
                token=self.central.token("admin"),
                mqtt_port=proxy.port,
                workdir=disk,
                device=f"chaos-box-{i}",
                log=lambda _: None,
                mqtt_host=link.host_ip if link else "127.0.0.1",
                camera_host=link.host_ip if link else "127.0.0.1",
                launcher=link.launcher if link else (),
                extra_config=(
                    f'[synthetic]\nrate_per_s = {self.event_rate}\ncheckpoint = "weigh-{i}"\n'
                ),
            )
            run.start()
            self.boxes.append(Box(run, link, disk, proxy))

    def close(self) -> None:
        self._stop.set()
        for box in self.boxes:
            with contextlib.suppress(Exception):  # tearing down: keep going
                box.run.stop()
            box.proxy.stop()
            if box.link:
                box.link.destroy()
        if self.central is not None:
            self.central.stop()
        if self.broker is not None:
            self.broker.stop()
        for disk in self._mounts:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)

    # -- trucks ----------------------------------------------------------------------------------

    def _drive(self, box: Box) -> None:
        trucks = box.run.scenario.trucks
        index = 0
        while not self._stop.is_set():
            truck = trucks[index % len(trucks)]
            index += 1
            try:
                box.run.drive(index, truck)
                box.trucks += 1
            except Exception:
                box.driver_errors += 1
                box.run.barrier.set_vehicle(False)
                box.run.camera.clear()
                box.run.scale.set_weight(0)
                self._stop.wait(1.0)

    # -- faults ----------------------------------------------------------------------------------

    def _watch(self) -> None:
        """Processes that died without being killed are crashes: counted, kept, restarted."""
        while not self._stop.wait(0.5):
            for box in self.boxes:
                agent = box.run.agent
                if agent is not None and agent.poll() is not None and not box.killed:
                    tail = (box.run.workdir / f"{box.device}.log").read_text(errors="replace")
                    box.crashes.append(tail[-3000:])
                    self.log(f"  CRASH {box.device} exit {agent.returncode}")
                    box.run.spawn_agent()

    def _fault(self, kind: str, box: Box) -> None:
        hold = self.rng.uniform(2.0, 8.0)
        started = time.monotonic()
        assert self.central is not None and self.broker is not None
        where = "" if kind in ("kill_central", "kill_broker", "stop_central") else box.device
        self.log(f"  fault {kind} {where} {hold:.1f}s")
        if kind == "kill_box":
            box.killed += 1
            assert box.run.agent is not None
            box.run.agent.send_signal(signal.SIGKILL)
            box.run.agent.wait(timeout=10)
            self._stop.wait(hold)
            box.run.spawn_agent()
            box.killed -= 1
        elif kind == "kill_central":
            self.central.kill()
            self._stop.wait(hold)
            self.central.start()
        elif kind == "kill_broker":
            assert self.broker.process is not None
            self.broker.process.send_signal(signal.SIGKILL)
            self.broker.process.wait(timeout=10)
            self._stop.wait(hold)
            self.broker.start()
        elif kind == "stop_central":
            self.central.signal(signal.SIGSTOP)
            self._stop.wait(hold)
            self.central.signal(signal.SIGCONT)
        elif kind in NETWORK_FAULTS and box.link is not None:
            link = box.link
            if kind == "partition":
                link.partition()
                self._stop.wait(hold)
            elif kind == "loss":
                link.lossy(30)
                self._stop.wait(hold)
            elif kind == "latency":
                box.proxy.delay_s = 2.0
                self._stop.wait(hold)
                box.proxy.delay_s = 0.0
            else:  # flapping every one to three seconds
                until = time.monotonic() + hold * 2
                while time.monotonic() < until and not self._stop.is_set():
                    link.partition()
                    self._stop.wait(self.rng.uniform(1, 3))
                    link.heal()
                    self._stop.wait(self.rng.uniform(1, 3))
            link.heal()
            if kind == "partition":
                self.resume_after_heal_s.append(self._resumed(box))
        elif kind == "scale_garbage":
            for fault in ("garbage", "torn", "bad_checksum"):
                box.run.scale.inject(fault)
            box.run.scale.inject("silence", hold)
            self._stop.wait(hold)
        elif kind == "barrier_silent":
            box.run.barrier.set_fault("silent")
            self._stop.wait(hold)
            box.run.barrier.set_fault("none")
            self._reset_faults(box)
        elif kind == "disk_full":
            filler = box.disk / "filler"
            try:
                with filler.open("wb") as out:
                    while True:
                        out.write(b"\0" * (1 << 20))
            except OSError:
                pass  # full
            self._stop.wait(hold)
            filler.unlink(missing_ok=True)
        self.faults.append(
            {"kind": kind, "device": box.device, "seconds": round(time.monotonic() - started, 1)}
        )

    def _resumed(self, box: Box) -> float:
        """Seconds from a healed link to central storing the box's next event."""
        assert self.central is not None
        healed = time.monotonic()
        before = self._central_events(box.device)
        while time.monotonic() - healed < 30 and not self._stop.is_set():
            if self._central_events(box.device) > before:
                return round(time.monotonic() - healed, 2)
            time.sleep(0.05)
        return 30.0

    def _reset_faults(self, box: Box, wait: float = 10.0) -> None:
        """A lane left in fault is reset by its technician, from central (looking for ``wait``
        seconds: a board that stopped answering faults the lane at its next command)."""
        assert self.central is not None
        deadline = time.monotonic() + wait
        while True:
            if box.run._lane_state() == "fault":
                self.central.send(
                    "POST",
                    f"/api/devices/{box.device}/commands",
                    {"action": "reset_fault", "reason": "chaos: board answers again"},
                    role="technician",
                )
                return
            if time.monotonic() >= deadline:
                return
            time.sleep(0.5)

    # -- the run ---------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        self.start()
        threads = [threading.Thread(target=self._watch, daemon=True)]
        threads += [
            threading.Thread(target=self._drive, args=(b,), daemon=True) for b in self.boxes
        ]
        for t in threads:
            t.start()
        kinds = [k for k in self.kinds if self.network or k not in NETWORK_FAULTS]
        if not self.root and "disk_full" in kinds:
            kinds.remove("disk_full")
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            self._stop.wait(self.rng.uniform(1.0, 4.0))
            self._fault(self.rng.choice(kinds), self.rng.choice(self.boxes))
        self._stop.set()
        for t in threads[1:]:
            t.join(timeout=60)
        self._stop.clear()  # the watch goes on while the backlog drains
        healed = time.monotonic()
        for box in self.boxes:
            self._reset_faults(box, wait=0)
            self._quiet(box)
        drained = self._drain(timeout=180)
        drain_s = time.monotonic() - healed
        self._stop.set()
        threads[0].join(timeout=5)
        figures = self.verify()
        figures.update(
            {
                "seed": self.seed,
                "drained": drained,
                "drain_after_heal_s": round(drain_s, 1),
                "resume_after_heal_s_max": max(self.resume_after_heal_s, default=None),
                "resume_after_heal_s_p50": (
                    statistics.median(self.resume_after_heal_s)
                    if self.resume_after_heal_s
                    else None
                ),
                "faults": len(self.faults),
                "fault_kinds": sorted({f["kind"] for f in self.faults}),
                "network_faults": self.network,
                "trucks": sum(b.trucks for b in self.boxes),
                "seconds": round(time.monotonic() - started, 1),
            }
        )
        return figures

    def _quiet(self, box: Box) -> None:
        """The box stops making up events (a clean restart without them), so its backlog has
        an end to drain to."""
        assert box.run.agent is not None
        box.killed += 1
        box.run.agent.terminate()
        box.run.agent.wait(timeout=30)
        box.run.extra_config = ""
        box.run.config_path = box.run._config()
        box.run.spawn_agent()
        box.killed -= 1

    def _drain(self, timeout: float) -> bool:
        assert self.central is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.central.acked(b.device) >= self._box_last_seq(b) for b in self.boxes):
                return True
            time.sleep(0.5)
        return False

    # -- the verdict -----------------------------------------------------------------------------

    def _box_events(self, box: Box) -> list[tuple[int, str, str, str]]:
        conn = sqlite3.connect(f"file:{box.run.db}?mode=ro", uri=True, timeout=30)
        try:
            return [
                (int(s), str(i), str(k), str(a))
                for s, i, k, a in conn.execute("SELECT seq, id, kind, at FROM outbox ORDER BY seq")
            ]
        finally:
            conn.close()

    def _box_last_seq(self, box: Box) -> int:
        rows = box.run._query("SELECT coalesce(max(seq), 0) FROM outbox")
        return int(rows[0][0]) if rows else 0

    def _central_events(self, device: str) -> int:
        assert self.central is not None
        conn = sqlite3.connect(f"file:{self.central.db}?mode=ro", uri=True, timeout=30)
        try:
            return int(
                conn.execute("SELECT count(*) FROM events WHERE device = ?", (device,)).fetchone()[
                    0
                ]
            )
        except sqlite3.OperationalError:
            return 0
        finally:
            conn.close()

    def verify(self) -> dict[str, Any]:
        assert self.central is not None
        conn = sqlite3.connect(f"file:{self.central.db}?mode=ro", uri=True, timeout=30)
        lost = duplicated = events = decisions = truck_decisions = unsafe = 0
        details: dict[str, Any] = {}
        try:
            for box in self.boxes:
                mine = self._box_events(box)
                events += len(mine)
                decisions += sum(1 for _s, _i, k, _a in mine if k == "lane_decision")
                truck_decisions += len(self._decisions_at(box, "barrier-in"))
                stored = dict(
                    conn.execute("SELECT id, seq FROM events WHERE device = ?", (box.device,))
                )
                missing = [s for s, i, _k, _a in mine if i not in stored]
                lost += len(missing)
                duplicated += int(
                    conn.execute(
                        "SELECT count(*) - count(DISTINCT id) FROM events WHERE device = ?",
                        (box.device,),
                    ).fetchone()[0]
                )
                bad = self._unsafe(box)
                unsafe += len(bad)
                details[box.device] = {
                    "events": len(mine),
                    "missing_seqs": missing[:20],
                    "unsafe": bad[:10],
                    "trucks": box.trucks,
                    "driver_errors": box.driver_errors,
                }
        finally:
            conn.close()
        return {
            "events": events,
            "decisions": decisions,
            "truck_decisions": truck_decisions,
            "lost": lost,
            "duplicated": duplicated,
            "unsafe_commands": unsafe,
            "crashes": sum(len(b.crashes) for b in self.boxes) + len(self.central_crashes),
            "details": details,
        }

    def _unsafe(self, box: Box) -> list[str]:
        """From the barrier simulator's own log: a close while the loop was occupied, and an
        open with no open decision or manual override of the box within 30 s before it."""
        bad = [
            f"close while occupied at {self._wall(r.at)}"
            for r in box.run.barrier.closes_while_occupied()
        ]
        decided_open = self._open_times(box)
        for r in box.run.barrier.received:
            if r.function == 5 and r.relay == 0 and r.value != 0:
                at = self._wall(r.at)
                if not any(
                    at - timedelta(seconds=30) <= t <= at + timedelta(seconds=2)
                    for t in decided_open
                ):
                    bad.append(f"open at {at.isoformat()} without a decision or an override")
        return bad

    def _decisions_at(self, box: Box, checkpoint: str) -> list[int]:
        """The seqs of the box's lane decisions at one checkpoint (its outbox)."""
        return [
            int(seq)
            for seq, body in box.run._query(
                "SELECT seq, body FROM outbox WHERE kind = 'lane_decision'"
            )
            if decode_event(bytes(body)).checkpoint == checkpoint
        ]

    def _open_times(self, box: Box) -> list[datetime]:
        """When the box decided to open, or was told to by a person (its outbox)."""
        out = []
        for _seq, body in box.run._query(
            "SELECT seq, body FROM outbox WHERE kind IN ('lane_decision', 'manual_override')"
        ):
            event = decode_event(bytes(body))
            if isinstance(event, ManualOverride) or (
                isinstance(event, LaneDecision) and event.decision == "open"
            ):
                out.append(event.at)
        return out

    def _wall(self, monotonic_at: float) -> datetime:
        return datetime.fromtimestamp(self._wall_offset + monotonic_at, UTC)


__all__ = ["FAULTS", "Chaos", "Link", "netns_available"]
