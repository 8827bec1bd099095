"""The declaration lifecycle of the gate's procedure, as data and pure functions.

    declared -> accepted -> (each agency confirms its steps) -> exited
         ^         |
         |         +-> returned (any agency, with a reason) -> re-declared by the enterprise
         +-------------------------------------------------------------+

Which steps a declaration needs follows from its goods and direction (``required_steps``);
which role confirms which step is ``STEPS``. Checks that go beyond the wire format (plate of
the declared nationality, ISO 6346 container number, vehicle class) are here too: a failure is
an ``InputError`` naming the field; a container check digit that does not add up is only a
warning (real records fail it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import msgspec

from central.roles import Role
from protocol.messages import Declaration, DeclaredFields, StepFlag
from protocol.plates import plate_problem


@dataclass(frozen=True)
class Step:
    name: str
    role: Role
    #: what the step is, in words (for errors and the UI)
    title: str


STEPS: dict[str, Step] = {
    s.name: s
    for s in (
        Step("medical_check", "medical", "medical check"),
        Step("border_guard", "border_guard", "border guard check"),
        Step("customs_arrival", "customs", "customs arrival"),
        Step("in_yard", "yard", "in yard"),
        Step("customs_check", "customs", "customs check / inspection"),
        Step("plant_quarantine", "plant_quarantine", "plant quarantine"),
        Step("animal_quarantine", "animal_quarantine", "animal quarantine"),
        Step("loading_registered", "enterprise", "loading / transshipment registered"),
        Step("loading_approved", "customs", "loading / transshipment approved"),
        Step("fees_paid", "fees", "infrastructure fees paid"),
        Step("out_of_yard", "yard", "out of yard"),
        Step("exit", "border_guard", "exit"),
    )
}


def required_steps(declaration: Declaration) -> list[str]:
    """The steps this declaration needs, in the order of the gate's procedure."""
    names = ["medical_check"] if "health" in declaration.quarantine else []
    names += ["border_guard", "customs_arrival", "in_yard", "customs_check"]
    if "plant" in declaration.quarantine:
        names.append("plant_quarantine")
    if "animal" in declaration.quarantine:
        names.append("animal_quarantine")
    if declaration.direction != "transit":  # goods change trucks in the yard
        names += ["loading_registered", "loading_approved"]
    names += ["fees_paid", "out_of_yard", "exit"]
    return names


def missing_steps(declaration: Declaration) -> list[str]:
    return [n for n in required_steps(declaration) if not declaration.steps.get(n, _NOT).done]


_NOT = StepFlag()


def awaiting(declaration: Declaration, role: Role) -> list[str]:
    """The steps still to be confirmed that are ``role``'s to confirm, in procedure order."""
    return [n for n in missing_steps(declaration) if STEPS[n].role == role]


class InputError(ValueError):
    """A declaration that fails a check: ``field`` names it (for a 422 with the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class LifecycleError(ValueError):
    """A transition the declaration's state does not allow (409)."""


class DeclarationInput(DeclaredFields, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """What an enterprise declares or re-declares: everything but status, steps and return
    reason. Its ``enterprise`` is the caller's tax code for an enterprise account (whatever is
    given), or named by customs declaring on an enterprise's behalf."""

    def declaration(self, enterprise: str | None) -> Declaration:
        """A new or re-submitted declaration: status declared, no steps yet."""
        fields = msgspec.structs.asdict(self) | {"enterprise": enterprise}
        return Declaration(**fields)


_CONTAINER = re.compile(r"^[A-Z]{3}[UJZR][0-9]{7}$")
_VEHICLE_CLASS = re.compile(r"^VT[0-9]{1,2}$")


def container_check_digit(number: str) -> int:
    """ISO 6346: letters count from 10 skipping multiples of 11; weights 2^i; mod 11, 10 -> 0."""
    values: list[int] = []
    letter_value = 10
    table: dict[str, int] = {}
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if letter_value % 11 == 0:
            letter_value += 1
        table[letter] = letter_value
        letter_value += 1
    for char in number[:10]:
        values.append(table[char] if char.isalpha() else int(char))
    total = sum(v * (2**i) for i, v in enumerate(values))
    return int(total % 11 % 10)


def check(declaration: Declaration) -> list[str]:
    """Raise ``InputError`` for a field that cannot be right; return warnings otherwise."""
    problem = plate_problem(declaration.plate, declaration.nationality)
    if problem:
        raise InputError("plate", problem)
    if declaration.trailer_plate is not None:
        # a trailer may carry the other country's plate
        problems = [plate_problem(declaration.trailer_plate, n) for n in ("VN", "CN")]
        if all(problems):
            raise InputError("trailer_plate", str(problems[0]))
    warnings: list[str] = []
    if declaration.container_no is not None:
        container = declaration.container_no.replace(" ", "").replace("-", "").upper()
        if not _CONTAINER.match(container):
            raise InputError(
                "container_no",
                f"{declaration.container_no!r} is not an ISO 6346 container number"
                " (4 letters, 7 digits, e.g. CSQU3054383)",
            )
        if container_check_digit(container) != int(container[10]):
            warnings.append(
                f"container_no {declaration.container_no}: the check digit should be"
                f" {container_check_digit(container)}; kept as declared"
            )
    if declaration.vehicle_class is not None and not _VEHICLE_CLASS.match(
        declaration.vehicle_class
    ):
        raise InputError(
            "vehicle_class", f"{declaration.vehicle_class!r} is no vehicle class (VT1 ... VT6)"
        )
    return warnings


def accept(declaration: Declaration) -> Declaration:
    if declaration.status != "declared":
        raise LifecycleError(
            f"declaration {declaration.number} is {declaration.status}, not declared"
        )
    return msgspec.structs.replace(declaration, status="accepted")


StepResult = Literal["match", "mismatch"]


def confirm_step(
    declaration: Declaration,
    step: str,
    role: Role,
    user: str,
    at: datetime,
    note: str | None,
    *,
    result: StepResult | None = None,
    reference: str | None = None,
) -> Declaration:
    """The declaration with ``step`` confirmed by ``user``; a customs mismatch returns it."""
    spec = STEPS.get(step)
    if spec is None:
        raise InputError("step", f"unknown step {step!r}; one of {', '.join(STEPS)}")
    if role != spec.role:
        raise PermissionError(f"the {spec.title} is confirmed by {spec.role}, not {role}")
    if step not in required_steps(declaration):
        raise LifecycleError(f"declaration {declaration.number} does not need the {spec.title}")
    if declaration.status != "accepted":
        raise LifecycleError(
            f"declaration {declaration.number} is {declaration.status}; steps are confirmed"
            " on accepted declarations"
        )
    if declaration.steps.get(step, _NOT).done:
        raise LifecycleError(f"the {spec.title} of {declaration.number} is already confirmed")
    if step == "customs_check" and result is None:
        raise InputError("result", "a customs check is a 'match' or a 'mismatch'")
    if step != "customs_check" and result is not None:
        raise InputError("result", "only a customs check has a result")
    if step == "fees_paid" and not reference:
        raise InputError("reference", "fees paid need a receipt or online payment reference")
    if step == "exit":
        missing = [n for n in missing_steps(declaration) if n != "exit"]
        if missing:
            raise LifecycleError(f"cannot exit before: {', '.join(missing)}")
    flag = StepFlag(done=True, at=at, user=user, note=note, result=result, reference=reference)
    steps = dict(declaration.steps) | {step: flag}
    changed = msgspec.structs.replace(declaration, steps=steps)
    if step == "customs_check" and result == "mismatch":
        return msgspec.structs.replace(
            changed,
            status="returned",
            return_reason=f"customs check mismatch: {note or ''}"[:500],
        )
    if step == "exit":
        return msgspec.structs.replace(changed, status="exited")
    return changed


def return_for_redeclaration(declaration: Declaration, reason: str) -> Declaration:
    if declaration.status not in ("declared", "accepted"):
        raise LifecycleError(f"declaration {declaration.number} is {declaration.status}")
    return msgspec.structs.replace(declaration, status="returned", return_reason=reason[:500])


def cancel(declaration: Declaration) -> Declaration:
    if declaration.status in ("exited", "cancelled"):
        raise LifecycleError(f"declaration {declaration.number} is {declaration.status}")
    return msgspec.structs.replace(declaration, status="cancelled")
