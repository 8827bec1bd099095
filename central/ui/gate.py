"""The gate picture: today's trucks by stage, lanes held now, boxes online, and two charts
(trucks per hour, yard occupancy against capacity), per gate and direction."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from central.accounts import Principal
from central.store import CentralStore
from central.ui import charts
from central.ui.held import held_now
from central.ui.i18n import N_, translator
from central.ui.pages import GATE_VIEWERS, DirectionChoice, GateChoice, Ui, gates
from central.web.auth import roles


def picture(
    store: CentralStore, ui: Ui, principal: Principal, gate: str | None, direction: str | None
) -> dict[str, Any]:
    """What the page shows (nine reads, whatever the traffic)."""
    _ = translator(principal.language)
    clock = ui.clock
    start = clock.day_start()
    budget = store.read_budget()
    counts = store.declaration_counts(gate, direction, start, budget)
    held = held_now(store, gate, 200, budget)
    held_at = Counter(c.checkpoint for c in held)
    devices = [s for g, s in store.device_status(budget).values() if not gate or g == gate]
    online = devices.count("online")
    start_yard, moves = store.yard_moves(gate, start, budget)
    in_yard = sum(start_yard.values()) + sum(step for _at, _y, step in moves)
    hours = [f"{h:02d}" for h in range(24)]
    opened = [0.0] * 24
    by_hand = [0.0] * 24
    holds = [0.0] * 24
    for hour, decision, overridden, n in store.crossings.per_hour(
        gate, start, start + timedelta(days=1), budget
    ):
        local = clock.local(f"{hour}:00:00+00:00")
        if local is None:
            continue
        slot = int((local - start).total_seconds() // 3600)
        if not 0 <= slot < 24:
            continue
        if decision == "open":
            opened[slot] += n
        elif overridden:
            by_hand[slot] += n
        else:
            holds[slot] += n
    per_hour = charts.stacked_bars(
        _("Trucks per hour"),
        hours,
        [
            charts.Series(_("opened by itself"), opened, "opened"),
            charts.Series(_("opened by hand"), by_hand, "byhand"),
            charts.Series(_("held"), holds, "held"),
        ],
    )
    level = float(sum(start_yard.values()))
    points = [(0.0, level)]
    for at, _yard, step in moves:
        local = clock.local(at)
        if local is None:
            continue
        level = max(0.0, level + step)
        points.append(((local - start).total_seconds() / 3600, level))
    now_h = (clock.now() - start).total_seconds() / 3600
    points.append((min(24.0, now_h), level))
    capacity = sum(ui.settings.yard_capacity.values()) or None
    occupancy = charts.step_line(
        _("Yard occupancy"),
        hours,
        points,
        capacity,
        (_("vehicles in yard"), _("capacity")),
    )
    return {
        "counts": counts,
        "held_total": len(held),
        "held_at": sorted(held_at.items()),
        "devices_total": len(devices),
        "devices_online": online,
        "in_yard": max(0, in_yard),
        "capacity": capacity,
        "per_hour": per_hour,
        "occupancy": occupancy,
    }


@get("/ui/gate", sync_to_thread=True, opt=roles(GATE_VIEWERS), include_in_schema=False)
def gate_page(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    ui: NamedDependency[Ui],
    principal: NamedDependency[Principal],
    gate_choice: GateChoice = "",
    direction_choice: DirectionChoice = "",
) -> Template:
    gate, direction = gate_choice or None, direction_choice or None
    return ui.page(
        request,
        principal,
        "gate.html",
        N_("Gate picture"),
        gate=gate,
        gates=gates(store),
        direction=direction,
        today=ui.clock.day_start(),
        **picture(store, ui, principal, gate, direction),
    )


ROUTES = [gate_page]
