"""The declaration lifecycle over HTTP, as enterprises and the agencies' officers use it:
declare, accept, confirm steps, return and re-declare, exit; validation; enterprise isolation."""

from __future__ import annotations

from typing import Any

from testkit.declarations import declared
from testkit.processes import Central

ENTERPRISE = "0101234567"
OTHER = "0309876543"
N = "2026112300001"


def as_enterprise(central: Central, tax_code: str = ENTERPRISE) -> str:
    return central.token("enterprise", tax_code)


def step(central: Central, number: str, name: str, role: str, **body: Any) -> tuple[int, Any]:
    return central.send("POST", f"/api/declarations/{number}/steps/{name}", body, role=role)


def test_a_declaration_goes_through_every_step_of_the_gate_to_exit(central: Central) -> None:
    ours = as_enterprise(central)
    code, body = central.send(
        "POST",
        "/api/declarations/",
        declared(N, "29H-888.12", quarantine=["plant"], container_no="CSQU3054383"),
        token=ours,
        role=None,
    )
    assert code == 201, body
    assert body["declaration"]["status"] == "declared" and body["warnings"] == []
    assert body["declaration"]["enterprise"] == ENTERPRISE  # the caller's, whatever it sends
    view = central.get(f"/api/declarations/{N}")
    assert view["required_steps"] == [
        "border_guard",
        "customs_arrival",
        "in_yard",
        "customs_check",
        "plant_quarantine",
        "loading_registered",
        "loading_approved",
        "fees_paid",
        "out_of_yard",
        "exit",
    ]
    # steps wait for acceptance; a step that is not this role's is refused
    assert step(central, N, "border_guard", "border_guard")[0] == 409
    assert central.send("POST", f"/api/declarations/{N}/accept", None, role="customs")[0] == 200
    code, body = step(central, N, "plant_quarantine", "customs")
    assert code == 403 and "plant_quarantine" in body["detail"]
    assert step(central, N, "medical_check", "medical")[0] == 409  # not needed: no health
    for name, role, extra in (
        ("border_guard", "border_guard", {}),
        ("customs_arrival", "customs", {}),
        ("in_yard", "yard", {}),
        ("customs_check", "customs", {"result": "match", "note": "scanner clear"}),
        ("plant_quarantine", "plant_quarantine", {"note": "fruit inspected"}),
        ("loading_approved", "customs", {}),
    ):
        code, body = step(central, N, name, role, **extra)
        assert code == 200, (name, body)
    code, body = central.send(
        "POST", f"/api/declarations/{N}/steps/loading_registered", {}, token=ours, role=None
    )
    assert code == 200, body
    code, body = step(central, N, "fees_paid", "fees")
    assert code == 422 and body["extra"][0]["key"] == "reference"
    assert step(central, N, "fees_paid", "fees", reference="BL-2026-000123")[0] == 200
    code, body = step(central, N, "exit", "border_guard")
    assert code == 409 and "out_of_yard" in body["detail"]
    assert step(central, N, "out_of_yard", "yard")[0] == 200
    code, body = step(central, N, "exit", "border_guard")
    assert code == 200 and body["declaration"]["status"] == "exited"
    steps = body["declaration"]["steps"]
    assert steps["customs_check"]["result"] == "match"
    assert steps["fees_paid"]["reference"] == "BL-2026-000123"
    assert steps["plant_quarantine"]["user"].startswith("token:")
    assert central.get(f"/api/declarations/{N}")["missing_steps"] == []
    history = central.get(f"/api/declarations/{N}/history")
    assert [h["action"] for h in history][:3] == ["declare", "accept", "step:border_guard"]
    assert history[-1]["action"] == "step:exit" and len(history) == 12  # declare, accept, 10


def test_a_returned_declaration_is_corrected_and_declared_again_with_its_history(
    central: Central,
) -> None:
    ours = as_enterprise(central)
    body = declared(N, "29H-888.12", declared_weight_kg=24_000)
    assert central.send("POST", "/api/declarations/", body, token=ours, role=None)[0] == 201
    central.send("POST", f"/api/declarations/{N}/accept", None, role="border_guard")
    step(central, N, "border_guard", "border_guard")
    code, answer = step(
        central, N, "customs_check", "customs", result="mismatch", note="30 t on the scale"
    )
    assert code == 200 and answer["declaration"]["status"] == "returned"
    assert "30 t" in answer["declaration"]["return_reason"]
    # nothing but a re-declaration moves it now
    assert step(central, N, "in_yard", "yard")[0] == 409
    corrected = declared(N, "29H-888.12", declared_weight_kg=30_000)
    code, answer = central.send("PUT", f"/api/declarations/{N}", corrected, token=ours, role=None)
    assert code == 200, answer
    again = answer["declaration"]
    assert again["status"] == "declared" and again["steps"] == {}
    assert again["declared_weight_kg"] == 30_000 and again["return_reason"] is None
    history = central.get(f"/api/declarations/{N}/history")
    assert [h["declaration"]["declared_weight_kg"] for h in history] == [24_000] * 4 + [30_000]
    # any agency may return it, with a reason
    code, answer = central.send(
        "POST", f"/api/declarations/{N}/return", {"reason": "driver ID expired"}, role="medical"
    )
    assert code == 200 and "driver ID expired" in answer["declaration"]["return_reason"]
    code, _ = central.send("POST", f"/api/declarations/{N}/return", {"reason": "no"}, role="viewer")
    assert code == 403
    assert (
        central.send("POST", f"/api/declarations/{N}/cancel", None, token=ours, role=None)[0] == 200
    )
    assert central.send("PUT", f"/api/declarations/{N}", corrected, token=ours, role=None)[0] == 409


def test_one_enterprise_never_sees_or_changes_another_ones_declarations(
    central: Central,
) -> None:
    ours, theirs = as_enterprise(central), as_enterprise(central, OTHER)
    assert (
        central.send(
            "POST", "/api/declarations/", declared(N, "29H-888.12"), token=ours, role=None
        )[0]
        == 201
    )
    code, body = central.send(
        "POST",
        "/api/declarations/",
        declared("2026112300002", "51F-155.85", enterprise=ENTERPRISE),
        token=theirs,
        role=None,
    )
    assert code == 422 and body["extra"][0]["key"] == "enterprise"
    assert (
        central.send(
            "POST",
            "/api/declarations/",
            declared("2026112300002", "51F-155.85"),
            token=theirs,
            role=None,
        )[0]
        == 201
    )
    for path in (f"/api/declarations/{N}", f"/api/declarations/{N}/history"):
        assert central.send("GET", path, None, token=theirs, role=None)[0] == 404
    listed = central.send("GET", "/api/declarations/", None, token=theirs, role=None)[1]
    assert [d["number"] for d in listed["items"]] == ["2026112300002"]
    assert (
        central.send(
            "PUT", f"/api/declarations/{N}", declared(N, "29H-888.12"), token=theirs, role=None
        )[0]
        == 404
    )
    assert (
        central.send("POST", f"/api/declarations/{N}/cancel", None, token=theirs, role=None)[0]
        == 404
    )
    assert central.get("/api/declarations/")["total"] == 2  # staff see both


def test_declarations_are_checked_field_by_field(central: Central) -> None:
    def create(**extra: Any) -> tuple[int, Any]:
        return central.send("POST", "/api/declarations/", declared(N, "29H-888.12") | extra)

    for extra, field in (
        ({"number": "123"}, "number"),
        ({"plate": "!!"}, "plate"),
        ({"plate": "桂A4K9X1"}, "plate"),  # a Chinese plate on a Vietnamese truck
        ({"nationality": "CN", "plate": "12C-345.67"}, "plate"),
        ({"container_no": "NOT-A-BOX"}, "container_no"),
        ({"hs_codes": ["fruit"]}, "hs_codes"),
        ({"declared_weight_kg": 0}, "declared_weight_kg"),
        ({"vehicle_class": "truck"}, "vehicle_class"),
        ({"status": "accepted"}, "status"),  # the lifecycle sets it, never the declarant
        ({"steps": {"customs_check": {"done": True}}}, "steps"),
    ):
        code, body = create(**extra)
        assert code == 422, (extra, body)
        assert any(
            field in str(e.get("key", "")) or field in str(e.get("message", ""))
            for e in body.get("extra", [])
        ), (field, body)
    # Chinese plates with or without the province character, a VN trailer behind a CN truck
    for plate in ("桂A4K9X1", "A4K9X1"):
        number = "2026112300009" if plate == "A4K9X1" else "2026112300008"
        code, body = central.send(
            "POST",
            "/api/declarations/",
            declared(number, plate, nationality="CN", trailer_plate="12R-004.56"),
        )
        assert code == 201, body
    # a container whose check digit does not add up is kept, with a warning
    code, body = create(container_no="CSQU3054384")
    assert code == 201 and "check digit" in body["warnings"][0]


def test_a_long_reason_or_a_long_token_name_never_stores_a_declaration_boxes_cannot_read(
    central: Central,
) -> None:
    body = declared(N, "29H-888.12")
    assert central.send("POST", "/api/declarations/", body)[0] == 201
    central.send("POST", f"/api/declarations/{N}/accept", None, role="customs")
    code, answer = central.send(
        "POST",
        f"/api/declarations/{N}/steps/customs_check",
        {"result": "mismatch", "note": "x" * 500},
        role="customs",
    )
    assert code == 200, answer
    assert len(answer["declaration"]["return_reason"]) <= 500
    code, answer = central.send(
        "POST", f"/api/declarations/{N}/return", {"reason": "y" * 500}, role="medical"
    )
    assert code == 409  # returned already; and it is still readable
    view = central.get(f"/api/declarations/{N}")
    assert view["declaration"]["status"] == "returned"
    assert central.get("/api/declarations/")["total"] == 1
