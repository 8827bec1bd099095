"""Gate policy as data: what a checkpoint requires before its barrier opens by itself.

Loaded from TOML (``[policy]`` of a lane). A decision is ``open`` or ``hold`` with machine
reason codes and human text; anything unknown or unverified holds (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

import msgspec

from protocol.messages import CheckpointName, Declaration

CheckpointKind = Literal["barrier-in", "barrier-out", "yard-in", "yard-out"]


class WeightRules(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    #: hold when |weighed - declared| > max(tolerance_pct % of declared, tolerance_kg)
    tolerance_pct: float = 5.0
    tolerance_kg: float = 500.0
    #: legal gross weight by vehicle class (kg); "default" for classes not listed
    legal_gross_kg: dict[str, float] = msgspec.field(
        default_factory=lambda: {"VT4": 10_000.0, "VT6": 48_000.0, "default": 48_000.0}
    )
    gross_tolerance_pct: float = 2.0
    #: a reading never stable within the weighing time holds the truck
    require_stable: bool = True


class Policy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    checkpoint: Annotated[CheckpointName, msgspec.Meta(min_length=1)]
    kind: CheckpointKind
    #: declaration statuses that may pass here
    allowed_status: list[str] = msgspec.field(default_factory=lambda: ["accepted"])
    #: agency steps that must be confirmed (done) on the declaration
    required_steps: list[str] = msgspec.field(default_factory=list)
    #: steps required only when the declaration names that quarantine
    quarantine_steps: dict[str, str] = msgspec.field(
        default_factory=lambda: {
            "health": "medical_check",
            "animal": "animal_quarantine",
            "plant": "plant_quarantine",
        }
    )
    weight: WeightRules | None = None
    yard: Annotated[CheckpointName, msgspec.Meta(min_length=1)] | None = None
    yard_capacity: Annotated[int, msgspec.Meta(ge=0)] | None = None


@dataclass(frozen=True)
class Reason:
    code: str
    text: str

    def __str__(self) -> str:
        return f"{self.code}: {self.text}"


@dataclass(frozen=True)
class Decision:
    open: bool
    reasons: tuple[Reason, ...] = ()
    declaration: Declaration | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


@dataclass(frozen=True)
class Weighing:
    kg: float | None
    stable: bool


def _pick(declarations: list[Declaration], policy: Policy) -> Declaration | None:
    """The declaration that applies: an open one (not exited/cancelled), newest first."""
    live = [d for d in declarations if d.status not in ("exited", "cancelled")]
    ranked = live or declarations
    return ranked[0] if ranked else None


def decide(
    policy: Policy,
    plate: str | None,
    declarations: list[Declaration],
    weighing: Weighing | None = None,
    yard_occupancy: int | None = None,
) -> Decision:
    reasons: list[Reason] = []
    if plate is None:
        return Decision(False, (Reason("no_plate_read", "no plate could be read"),))
    declaration = _pick(declarations, policy)
    if declaration is None:
        return Decision(False, (Reason("unknown_plate", f"no declaration for {plate}"),))
    if declaration.status == "returned":
        reasons.append(
            Reason(
                "declaration_returned",
                f"declaration {declaration.number} was returned for re-declaration",
            )
        )
    elif declaration.status not in policy.allowed_status:
        reasons.append(
            Reason(
                "declaration_status",
                f"declaration {declaration.number} is {declaration.status}, "
                f"not {' or '.join(policy.allowed_status)}",
            )
        )
    needed = list(policy.required_steps)
    needed += [
        policy.quarantine_steps[q] for q in declaration.quarantine if q in policy.quarantine_steps
    ]
    for step in needed:
        flag = declaration.steps.get(step)
        if flag is None or not flag.done:
            reasons.append(Reason(f"step_missing:{step}", f"{step} not confirmed"))
    if policy.weight is not None:
        reasons += _weight_reasons(policy.weight, declaration, weighing)
    if policy.kind == "yard-in" and policy.yard_capacity is not None:
        occupied = yard_occupancy or 0
        if occupied >= policy.yard_capacity:
            reasons.append(
                Reason("yard_full", f"yard {policy.yard} full ({occupied}/{policy.yard_capacity})")
            )
    return Decision(not reasons, tuple(reasons), declaration)


def _weight_reasons(
    rules: WeightRules, declaration: Declaration, weighing: Weighing | None
) -> list[Reason]:
    if weighing is None or weighing.kg is None:
        return [Reason("weight_missing", "no weight from the weighbridge")]
    reasons = []
    if rules.require_stable and not weighing.stable:
        reasons.append(Reason("weight_unstable", "the weighbridge never settled"))
    kg = weighing.kg
    if declaration.declared_weight_kg is not None:
        allowed = max(
            declaration.declared_weight_kg * rules.tolerance_pct / 100, rules.tolerance_kg
        )
        if abs(kg - declaration.declared_weight_kg) > allowed:
            reasons.append(
                Reason(
                    "weight_mismatch",
                    f"weighed {kg:.0f} kg, declared "
                    f"{declaration.declared_weight_kg:.0f} kg (±{allowed:.0f})",
                )
            )
    limit = rules.legal_gross_kg.get(
        declaration.vehicle_class or "default", rules.legal_gross_kg.get("default")
    )
    if limit is not None and kg > limit * (1 + rules.gross_tolerance_pct / 100):
        reasons.append(
            Reason(
                "overweight",
                f"gross {kg:.0f} kg over the legal {limit:.0f} kg "
                f"for class {declaration.vehicle_class or 'default'}",
            )
        )
    return reasons
