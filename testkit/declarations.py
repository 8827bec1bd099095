"""Customs declarations as central's API takes them (``POST /api/declarations/``)."""

from __future__ import annotations

from typing import Any


def declaration(number: str, plate: str, status: str = "accepted", **extra: Any) -> dict[str, Any]:
    """An import declaration at gate CKHN for ``plate`` (Chinese when it starts with 桂);
    ``extra`` adds or replaces fields."""
    return {
        "number": number,
        "direction": "import",
        "gate": "CKHN",
        "plate": plate,
        "nationality": "CN" if plate.startswith("桂") else "VN",
        "status": status,
        "declared_weight_kg": 24560,
        "vehicle_class": "VT6",
        **extra,
    }


def declared(number: str, plate: str, **extra: Any) -> dict[str, Any]:
    """What an enterprise sends to ``POST /api/declarations/``: no status, no steps."""
    body = declaration(number, plate, **extra)
    body.pop("status")
    return body
