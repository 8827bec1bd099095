"""Who may do what at central: the roles, and the groups routes name when they say who may call
them. Data only; the web layer enforces it (``central/web/auth.py``): a route that names no
roles is refused to everyone but its public ones (health, login, the schema)."""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal[
    "admin",
    "border_guard",
    "customs",
    "medical",
    "plant_quarantine",
    "animal_quarantine",
    "yard",
    "fees",
    "traffic_police",
    "technician",
    "viewer",
    "enterprise",
]
ROLES: tuple[Role, ...] = get_args(Role)

#: The border agencies' officers: they confirm steps and may return a declaration.
AGENCIES: frozenset[Role] = frozenset(
    {"border_guard", "customs", "medical", "plant_quarantine", "animal_quarantine", "yard", "fees"}
)
#: Everyone who works for the gate (not an enterprise): may read crossings, events, devices.
STAFF: frozenset[Role] = frozenset(ROLES) - {"enterprise"}
#: Roles that run a checkpoint: only they may open a barrier by hand.
CHECKPOINT_OPERATORS: frozenset[Role] = frozenset({"border_guard", "yard"})
#: A fault reset needs someone at the lane or its technician.
FAULT_RESETTERS: frozenset[Role] = CHECKPOINT_OPERATORS | {"technician"}
#: Box maintenance (resync, reload config) and incidents of the sync.
OPERATIONS: frozenset[Role] = frozenset({"admin", "technician"})
#: Who accepts a declared declaration (its steps can then be confirmed).
ACCEPTORS: frozenset[Role] = frozenset({"customs", "border_guard"})
#: Declarations are written by enterprises (their own) and by customs (on their behalf).
DECLARANTS: frozenset[Role] = frozenset({"enterprise", "customs"})
#: Who may read declarations: every staff role, and an enterprise its own.
DECLARATION_READERS: frozenset[Role] = STAFF | {"enterprise"}
#: The audit trail.
AUDITORS: frozenset[Role] = frozenset({"admin", "viewer"})
