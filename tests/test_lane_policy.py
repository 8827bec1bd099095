"""Gate policy as data: every reason a truck is held, and the clean pass."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from edge_agent.lane.policy import Policy, Weighing, WeightRules, decide
from protocol.messages import Declaration, StepFlag

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def declaration(**changes: object) -> Declaration:
    base = Declaration(
        number="2026112300001",
        direction="import",
        gate="CKHN",
        plate="12C-345.67",
        nationality="VN",
        status="accepted",
        declared_weight_kg=24_000,
        vehicle_class="VT6",
        steps={"border_guard": StepFlag(done=True, at=NOW, user="bg1")},
    )
    return msgspec.structs.replace(base, **changes)


BARRIER_IN = Policy(
    checkpoint="barrier-in",
    kind="barrier-in",
    required_steps=["border_guard"],
    weight=WeightRules(),
)


def test_a_declared_compliant_truck_opens() -> None:
    decision = decide(BARRIER_IN, "12C34567", [declaration()], Weighing(24_300, True))
    assert decision.open and decision.reasons == () and decision.declaration is not None


@pytest.mark.parametrize(
    ("plate", "declarations", "weighing", "code"),
    [
        (None, [], Weighing(24_000, True), "no_plate_read"),
        ("12C34567", [], Weighing(24_000, True), "unknown_plate"),
        (
            "12C34567",
            [declaration(status="returned")],
            Weighing(24_000, True),
            "declaration_returned",
        ),
        (
            "12C34567",
            [declaration(status="declared")],
            Weighing(24_000, True),
            "declaration_status",
        ),
        ("12C34567", [declaration(steps={})], Weighing(24_000, True), "step_missing:border_guard"),
        (
            "12C34567",
            [declaration(quarantine=["plant"])],
            Weighing(24_000, True),
            "step_missing:plant_quarantine",
        ),
        ("12C34567", [declaration()], Weighing(26_000, True), "weight_mismatch"),
        (
            "12C34567",
            [declaration(declared_weight_kg=52_000)],
            Weighing(52_000, True),
            "overweight",
        ),
        ("12C34567", [declaration()], Weighing(24_000, False), "weight_unstable"),
        ("12C34567", [declaration()], None, "weight_missing"),
    ],
)
def test_each_rule_holds_with_its_reason(
    plate: str | None, declarations: list[Declaration], weighing: Weighing | None, code: str
) -> None:
    decision = decide(BARRIER_IN, plate, declarations, weighing)
    assert not decision.open
    assert code in decision.codes
    assert all(r.text for r in decision.reasons)


def test_weight_tolerance_is_the_larger_of_percent_and_kilograms() -> None:
    small = declaration(declared_weight_kg=4_000, vehicle_class="VT4")
    assert decide(BARRIER_IN, "x", [small], Weighing(4_450, True)).open  # 450 < 500 kg
    assert not decide(BARRIER_IN, "x", [small], Weighing(4_550, True)).open
    big = declaration(declared_weight_kg=40_000)
    assert decide(BARRIER_IN, "x", [big], Weighing(41_900, True)).open  # 1,900 < 5 %
    assert not decide(BARRIER_IN, "x", [big], Weighing(42_100, True)).open


def test_a_full_yard_holds_at_yard_in() -> None:
    yard_in = Policy(checkpoint="yard-in", kind="yard-in", yard="Y1", yard_capacity=2)
    assert decide(yard_in, "x", [declaration()], None, yard_occupancy=1).open
    held = decide(yard_in, "x", [declaration()], None, yard_occupancy=2)
    assert held.codes == ["yard_full"]


def test_an_exited_declaration_does_not_hide_a_live_one() -> None:
    decision = decide(
        BARRIER_IN,
        "x",
        [declaration(status="exited", number="2026112200009"), declaration()],
        Weighing(24_000, True),
    )
    assert decision.open and decision.declaration is not None
    assert decision.declaration.number == "2026112300001"


def test_policies_load_from_toml_and_refuse_unknown_keys() -> None:
    import tomllib

    text = """
checkpoint = "barrier-out"
kind = "barrier-out"
required_steps = ["customs", "fees_paid"]
[weight]
tolerance_pct = 3
legal_gross_kg = { VT6 = 48000, default = 40000 }
"""
    policy = msgspec.convert(tomllib.loads(text), Policy)
    assert policy.required_steps == ["customs", "fees_paid"] and policy.weight is not None
    with pytest.raises(msgspec.ValidationError, match="colour"):
        msgspec.convert(tomllib.loads(text + 'colour = "red"\n'), Policy)
