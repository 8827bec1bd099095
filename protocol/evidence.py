"""One crossing's evidence, checked offline: the batches the box sealed (their exact bytes),
the box's public key, and the crossing as central recorded it.

``verify(export)`` rebuilds each sealed batch's event array from the events' own encodings,
checks the box's seal over it, checks the hash chain from event to event, finds the crossing's
lane decision among them and compares it with what central recorded (plate, decision, reasons,
declaration, weight), and checks the plate crop against its hash. Nothing here trusts central:
only the box's key.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any

import msgspec

from protocol.codec import decode_event
from protocol.messages import LaneDecision
from protocol.signing import SignatureError, event_hash, load_public, verify_seal

_encoder = msgspec.msgpack.Encoder()


class SealedBatch(msgspec.Struct, kw_only=True):
    first_seq: int
    last_seq: int
    seal: str  # base64


class EvidenceEvent(msgspec.Struct, kw_only=True):
    seq: int
    raw: str  # base64 of the event's encoding as the box sent it


class Evidence(msgspec.Struct, kw_only=True):
    """What ``GET /api/crossings/{id}/evidence`` exports."""

    v: int = 1
    crossing: dict[str, Any]
    device: str
    #: the box's Ed25519 public key (base64), as enrolled
    public_key: str
    batches: list[SealedBatch]
    events: list[EvidenceEvent]


@dataclass
class Verdict:
    ok: bool
    checks: list[tuple[bool, str]] = field(default_factory=list)

    def add(self, ok: bool, what: str) -> None:
        self.checks.append((ok, what))
        self.ok = self.ok and ok


def _array(raws: list[bytes]) -> bytes:
    return _encoder.encode([msgspec.Raw(r) for r in raws])


def verify(evidence: Evidence) -> Verdict:
    verdict = Verdict(ok=True)
    try:
        key = load_public(evidence.public_key)
    except SignatureError as exc:
        verdict.add(False, f"the box's public key: {exc}")
        return verdict
    raws = {e.seq: base64.b64decode(e.raw) for e in evidence.events}
    for batch in evidence.batches:
        seqs = range(batch.first_seq, batch.last_seq + 1)
        missing = [s for s in seqs if s not in raws]
        if missing:
            verdict.add(False, f"batch {batch.first_seq}-{batch.last_seq}: events missing")
            continue
        try:
            verify_seal(
                key, evidence.device, _array([raws[s] for s in seqs]), base64.b64decode(batch.seal)
            )
            verdict.add(True, f"batch {batch.first_seq}-{batch.last_seq} sealed by the box")
        except SignatureError as exc:
            verdict.add(False, f"batch {batch.first_seq}-{batch.last_seq}: {exc}")
    sealed = {s for b in evidence.batches for s in range(b.first_seq, b.last_seq + 1)}
    ordered = sorted(raws)
    for before, after in itertools.pairwise(ordered):
        if after == before + 1:
            linked = decode_event(raws[after]).prev == event_hash(raws[before])
            verdict.add(linked, f"event {after} chained to event {before}")
    seq = int(evidence.crossing.get("seq", -1))
    if seq not in raws or seq not in sealed:
        verdict.add(False, f"the crossing's event {seq} is not among the sealed events")
        return verdict
    decision = decode_event(raws[seq])
    if not isinstance(decision, LaneDecision):
        verdict.add(False, f"event {seq} is no lane decision")
        return verdict
    recorded = evidence.crossing
    for name, value in (
        ("decision", decision.decision),
        ("plate", decision.plate),
        ("declaration", decision.declaration),
        ("weight_kg", decision.weight_kg),
        ("reasons", list(decision.reasons)),
    ):
        verdict.add(
            recorded.get(name) == value,
            f"{name}: central says {recorded.get(name)!r}, the box signed {value!r}",
        )
    if decision.crop_jpeg is not None:
        digest = hashlib.sha256(decision.crop_jpeg).hexdigest()
        verdict.add(
            recorded.get("crop") in (None, digest),
            f"plate crop: sha256 {digest[:16]}... as signed",
        )
    return verdict
