"""A technician enrols a box in minutes, and nobody else can speak for it: a real Mosquitto
with the ACL, password file and TLS listener central generates, a real central that requires
enrolment, and boxes enrolled with `cuakhau provision enrol`. Each attack an outsider tried
before is repeated here and must fail."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from central.broker_access import ensure_tls
from central.store import CentralStore
from edge_agent.store import EdgeStore
from protocol import topics
from protocol.codec import encode, encode_event, encode_event_batch
from protocol.messages import Command, LaneDecision, SyncRequest, WeightMeasured
from protocol.signing import load_private, new_key
from testkit import wait_for
from testkit.outbox import fill_outbox
from testkit.processes import Agent, Proc, run_module
from testkit.secure_gate import SecureGate, grant


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[SecureGate]:
    """Central and its broker, set up the secure way; both stopped after the test."""
    secure = SecureGate(tmp_path)
    try:
        secure.start()
        yield secure
    finally:
        secure.stop()


@pytest.mark.slow
def test_an_enrolled_box_syncs_and_nobody_else_can_speak_for_it(
    tmp_path: Path, processes: list[Proc], gate: SecureGate
) -> None:
    central = gate.central

    # -- a technician enrols a box, as docs/PROVISIONING.md says -------------------------------
    box = tmp_path / "etc-b1"
    token = gate.enrolment_token()
    done = gate.enrol(box, token)
    assert done.returncode == 0, done.stderr
    assert "1/3" in done.stdout and "enrolled:" in done.stdout
    for secret in ("device.key", "mqtt-password"):
        assert (box / secret).stat().st_mode & 0o777 == 0o600, secret
    b1 = grant(box)
    again = gate.enrol(box, token)
    assert again.returncode == 2 and "enrolled already" in again.stderr
    reused = gate.enrol(tmp_path / "etc-other", token)
    assert reused.returncode == 2 and "was used" in reused.stderr

    agent = Agent(tmp_path, box / "box.toml")
    processes.append(agent)
    emitted = fill_outbox(box / "box.db", 100)
    agent.start()
    wait_for(lambda: central.acked(b1["device"]) == 100, 30, "the enrolled box's events")
    assert central.stored_events(b1["device"]) == emitted

    # -- a second box, and what it (or anyone) can no longer do --------------------------------
    box2 = tmp_path / "etc-b2"
    assert gate.enrol(box2, gate.enrolment_token("barrier-out")).returncode == 0
    b2 = grant(box2)
    assert b2["device"] != b1["device"]

    anonymous, reason = gate.client(None, None, "attacker-laptop")
    assert reason is not None and reason.is_failure, "anonymous clients are refused"
    anonymous.loop_stop()

    # box 2 publishing as box 1 (and under box 1's client id): the broker drops it
    dropped_before = agent.output().count("mqtt disconnected")
    intruder, reason = gate.client(b2["device"], b2["password"], b1["device"])
    assert reason is not None and not reason.is_failure
    forged = WeightMeasured(
        seq=101,
        id="forged-101",
        at=datetime.now(UTC),
        checkpoint="barrier-in",
        kg=1.0,
        stable=True,
    )
    key2 = load_private(box2 / "device.key")
    info = intruder.publish(
        topics.events(b1["device"]),
        encode_event_batch(b1["device"], [encode_event(forged)], key2),
        qos=1,
    )
    info.wait_for_publish(5)
    command = Command(
        id="forged-cmd",
        device=b1["device"],
        action="open",
        at=datetime.now(UTC),
        by="chief.inspector",
        reason="forged",
    )
    intruder.publish(topics.command(b1["device"]), encode(command), qos=1).wait_for_publish(5)
    # ... and on its own topic, asking for another gate's declarations (its drivers' data)
    other_gate = SyncRequest(device=b2["device"], gate="TT", cursor=0)
    intruder.publish(topics.sync(b2["device"]), encode(other_gate), qos=1).wait_for_publish(5)
    time.sleep(2)
    assert central.acked(b1["device"]) == 100 and len(central.stored_events(b1["device"])) == 100
    assert central.get("/api/stats")["rejected"].get("sync:gate") == 1
    intruder.loop_stop()
    intruder.disconnect()

    # box 1 was not kicked off by a client claiming its client id (the broker names every
    # client by its account), and it still syncs
    assert agent.output().count("mqtt disconnected") == dropped_before
    emitted += fill_outbox(box / "box.db", 10)
    wait_for(lambda: central.acked(b1["device"]) == 110, 30, "box 1 still syncing")

    # -- a crossing's evidence, checked offline against box 1's key alone ------------------------
    lane = EdgeStore(box / "box.db")
    lane.emit(
        LaneDecision(
            at=datetime.now(UTC),
            checkpoint="barrier-in",
            plate="29H-888.12",
            decision="hold",
            reasons=["unknown_plate: no declaration"],
            crop_jpeg=b"\xff\xd8 a plate crop",
        )
    )
    lane.close()
    wait_for(lambda: central.acked(b1["device"]) == 111, 30, "the decision at central")
    crossing = central.get("/api/crossings?limit=1")["items"][0]
    code, evidence = central.send(
        "GET", f"/api/crossings/{crossing['id']}/evidence", None, role="viewer"
    )
    assert code == 200, evidence
    export = tmp_path / "evidence.json"
    export.write_text(json.dumps(evidence), encoding="utf-8")
    verified = run_module(
        "cuakhau", "verify", "crossing", str(crossing["id"]), "--export", str(export)
    )
    assert verified.returncode == 0, verified.stdout
    assert "sealed by the box" in verified.stdout and "verified" in verified.stdout
    evidence["crossing"]["decision"] = "open"  # what someone rewrote at central
    export.write_text(json.dumps(evidence), encoding="utf-8")
    tampered = run_module(
        "cuakhau", "verify", "crossing", str(crossing["id"]), "--export", str(export)
    )
    assert tampered.returncode == 1 and "NOT VERIFIED" in tampered.stdout

    # past the broker (here with central's own account): a batch box 1 did not seal, an
    # altered one, and an unsigned command are all refused
    insider, reason = gate.client("cuakhau-central", gate.central_password, "insider", plain=True)
    assert reason is not None and not reason.is_failure
    key1 = load_private(box / "device.key")
    event = msgspec_replace(forged, seq=111, id="x-111")
    insider.publish(
        topics.events(b1["device"]),
        encode_event_batch(b1["device"], [encode_event(event)], key2),
        qos=1,
    ).wait_for_publish(5)
    sealed = encode_event_batch(b1["device"], [encode_event(event)], key1)
    altered = sealed.replace(b"x-111", b"y-111")
    insider.publish(topics.events(b1["device"]), altered, qos=1).wait_for_publish(5)
    insider.publish(
        topics.events(b1["device"]),
        encode_event_batch(b1["device"], [encode_event(event)]),
        qos=1,
    ).wait_for_publish(5)
    insider.publish(topics.command(b1["device"]), encode(command), qos=1).wait_for_publish(5)
    # even sealed with box 1's own key (a stolen key), an event must follow box 1's chain
    off_chain = msgspec_replace(forged, seq=112, id="x-112", prev=b"\x00" * 32)
    insider.publish(
        topics.events(b1["device"]),
        encode_event_batch(b1["device"], [encode_event(off_chain)], key1),
        qos=1,
    ).wait_for_publish(5)
    wait_for(
        lambda: central.get("/api/stats")["rejected"].get("events:chain", 0) >= 1,
        20,
        "central to refuse an event that does not follow the box's chain",
    )
    wait_for(
        lambda: central.get("/api/stats")["rejected"].get("events:seal", 0) >= 3,
        20,
        "central to refuse the unsealed, forged and altered batches",
    )
    assert central.acked(b1["device"]) == 111
    assert central.get("/api/stats")["incidents_open"].get("forged_batch", 0) >= 2
    wait_for(lambda: "what=signature" in agent.output(), 20, "the box to refuse the command")
    store = EdgeStore(box / "box.db", create=False)
    assert store.lanes.state("barrier-in") is None, "no lane moved"
    store.close()
    insider.loop_stop()
    insider.disconnect()

    # -- revocation: no more broker access, no more events -------------------------------------
    code, _ = central.send(
        "POST", f"/api/identities/{b1['device']}/revoke", None, role="technician"
    )
    assert code == 200
    time.sleep(1)
    revoked, reason = gate.client(b1["device"], b1["password"], "b1-again")
    assert reason is not None and reason.is_failure, "a revoked box cannot connect"
    revoked.loop_stop()
    assert [d["status"] for d in central.get("/api/devices") if d["device"] == b1["device"]] == [
        "revoked"
    ]
    identities = central.get("/api/identities")
    assert [i["revoked_at"] is not None for i in identities if i["device"] == b1["device"]] == [
        True
    ]

    # -- a box that meets a broker certificate from another CA refuses it ----------------------
    other = tmp_path / "other-ca"
    ensure_tls(other, ["127.0.0.1"])
    with pytest.raises(ssl.SSLError):
        gate.client(b2["device"], b2["password"], "b2-other-ca", ca=other / "ca.pem")


def msgspec_replace(event: WeightMeasured, **changes: Any) -> WeightMeasured:
    import msgspec

    return msgspec.structs.replace(event, **changes)


def test_an_expired_enrolment_token_is_refused_with_a_clear_error(
    tmp_path: Path, processes: list[Proc]
) -> None:
    from central.identities import IdentityStore

    central_db = tmp_path / "central.db"
    store = CentralStore(central_db)
    token = IdentityStore(store.file).create_enrolment("CKHN", ["barrier-in"], "test", 0.0003)
    store.close()
    time.sleep(1.5)
    with pytest.raises(Exception, match="expired"):
        store = CentralStore(central_db)
        try:
            IdentityStore(store.file).enrol(token, _public(), "box")
        finally:
            store.close()


def _public() -> str:
    from protocol.signing import public_text

    return public_text(new_key())


def test_the_probe_checks_every_device_and_says_what_to_fix(tmp_path: Path) -> None:
    from simulators.barrier.simulator import BarrierSimulator
    from simulators.camera import CameraSimulator
    from simulators.scale.simulator import ScaleSimulator

    barrier = BarrierSimulator()
    scale = ScaleSimulator("toledo", rate_hz=20)
    camera = CameraSimulator(fps=10).start()
    barrier.start()
    scale.start()
    scale.set_weight(24_560)
    camera.show("29H-888.12")
    try:

        def config(scale_protocol: str) -> Path:
            path = tmp_path / f"box-{scale_protocol}.toml"
            path.write_text(
                'device = "probe-box"\ngate = "CKHN"\n[mqtt]\nport = 1\n'
                f'[store]\npath = "box.db"\n[[lanes]]\ncamera = "{camera.url}"\n'
                f'[lanes.barrier]\nurl = "{barrier.path}"\n'
                f'[lanes.scale]\nprotocol = "{scale_protocol}"\nurl = "{scale.path}"\n'
                '[lanes.policy]\ncheckpoint = "barrier-in"\nkind = "barrier-in"\n',
                encoding="utf-8",
            )
            return path

        done = run_module(
            "cuakhau", "provision", "probe", "--config", str(config("toledo")), "--listen", "3"
        )
        out = done.stdout
        assert "[ok  ] plate models" in out, out
        assert "[ok  ] barrier-in: barrier board: answers: loop clear" in out
        assert "[ok  ] barrier-in: weighbridge (toledo): 24560 kg" in out
        assert "[ok  ] barrier-in: camera: 1280x720 frames; plates in view: 29H-888.12" in out
        # nothing listens on the box's broker port here: that is the one failure, with a fix
        assert "[FAIL] broker 127.0.0.1:1" in out and "-> check" in out
        assert done.returncode == 1 and "4 of 5 checks passed" in out
        wrong = run_module(
            "cuakhau", "provision", "probe", "--config", str(config("mtsics")), "--listen", "2"
        )
        assert "[FAIL] barrier-in: weighbridge (mtsics)" in wrong.stdout
        assert "cuakhau probe scale" in wrong.stdout
    finally:
        camera.stop()
        scale.stop()
        barrier.stop()
