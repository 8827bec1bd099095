"""Which boxes exist and who may speak for them: one-time enrolment tokens, each enrolled
box's Ed25519 public key and broker account, revocation. Owns the tables ``enrolments`` and
``device_identities``.

An enrolment token is made by an admin or technician for a gate and its checkpoint(s); it
expires and can be used once. The box that presents it registers its public key and gets its
device id and broker password (only the password's PBKDF2 hash, as Mosquitto checks it, is
kept). A revoked box keeps its public key, so its earlier events stay verifiable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from protocol.errors import UserError
from protocol.signing import load_public
from protocol.sqlite_file import SqliteFile

_TOKEN_PREFIX = "cke_"
_CHECKPOINT = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
_GATE = re.compile(r"^[A-Z0-9]{1,16}$")
#: Mosquitto's own password hash: PBKDF2-SHA512, 101 iterations (``$7$``, as mosquitto_passwd)
_MOSQUITTO_ITERATIONS = 101

SCHEMA = (
    """CREATE TABLE enrolments (
        token_hash TEXT PRIMARY KEY,
        gate TEXT NOT NULL,
        checkpoints TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT,
        device TEXT
    )""",
    """CREATE TABLE device_identities (
        device TEXT PRIMARY KEY,
        gate TEXT NOT NULL,
        checkpoints TEXT NOT NULL,
        public_key BLOB NOT NULL,
        broker_password_hash TEXT NOT NULL,
        hostname TEXT,
        enrolled_at TEXT NOT NULL,
        revoked_at TEXT,
        revoked_by TEXT
    )""",
)


class EnrolmentError(UserError, ValueError):
    """An enrolment that cannot be done (the message says why: expired, used, unknown...)."""


@dataclass(frozen=True)
class Identity:
    device: str
    gate: str
    checkpoints: list[str]
    public_key: Ed25519PublicKey
    broker_password_hash: str
    enrolled_at: str
    revoked_at: str | None


@dataclass(frozen=True)
class Enrolled:
    device: str
    gate: str
    checkpoints: list[str]
    #: the box's broker password, given once
    broker_password: str


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _MOSQUITTO_ITERATIONS, 64)
    return (
        f"$7${_MOSQUITTO_ITERATIONS}${base64.b64encode(salt).decode()}"
        f"${base64.b64encode(digest).decode()}"
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class IdentityStore:
    def __init__(self, file: SqliteFile) -> None:
        self.file = file

    def create_enrolment(
        self, gate: str, checkpoints: list[str], created_by: str, expires_hours: float = 24
    ) -> str:
        """A one-time enrolment token (returned once; only its hash is kept)."""
        if not _GATE.match(gate):
            raise EnrolmentError(f"gate {gate!r}: a gate code such as CKHN or TT")
        if not checkpoints or not all(_CHECKPOINT.match(c) for c in checkpoints):
            raise EnrolmentError("checkpoints: one or more names such as barrier-in, yard-out")
        if not 0 < expires_hours <= 24 * 30:
            raise EnrolmentError("an enrolment token expires within 30 days")
        token = _TOKEN_PREFIX + secrets.token_urlsafe(24)
        now = _now()
        with self.file.transaction() as conn:
            conn.execute(
                "INSERT INTO enrolments(token_hash, gate, checkpoints, created_by, created_at,"
                " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    _sha256(token),
                    gate,
                    json.dumps(checkpoints),
                    created_by,
                    now.isoformat(),
                    (now + timedelta(hours=expires_hours)).isoformat(),
                ),
            )
        return token

    def enrol(self, token: str, public_key: str, hostname: str | None) -> Enrolled:
        """Use an enrolment token: the box's identity, its device id and broker password."""
        key = load_public(public_key)  # SignatureError (a ValueError) when it is none
        now = _now()
        with self.file.transaction() as conn:
            row = conn.execute(
                "SELECT gate, checkpoints, expires_at, used_at, device FROM enrolments"
                " WHERE token_hash = ?",
                (_sha256(token),),
            ).fetchone()
            if row is None:
                raise EnrolmentError("unknown enrolment token; ask central's admin for one")
            gate, checkpoints_json, expires_at, used_at, used_by = row
            if used_at is not None:
                raise EnrolmentError(
                    f"this enrolment token was used at {used_at} (by {used_by}); ask for a new one"
                )
            if expires_at <= now.isoformat():
                raise EnrolmentError(f"this enrolment token expired at {expires_at}")
            checkpoints: list[str] = json.loads(checkpoints_json)
            device = self._next_device_id(conn, gate, checkpoints[0])
            password = secrets.token_urlsafe(24)
            conn.execute(
                "INSERT INTO device_identities(device, gate, checkpoints, public_key,"
                " broker_password_hash, hostname, enrolled_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    device,
                    gate,
                    checkpoints_json,
                    base64.b64decode(public_key),
                    mosquitto_hash(password),
                    hostname,
                    now.isoformat(),
                ),
            )
            conn.execute(
                "UPDATE enrolments SET used_at = ?, device = ? WHERE token_hash = ?",
                (now.isoformat(), device, _sha256(token)),
            )
        del key
        return Enrolled(device, gate, checkpoints, password)

    @staticmethod
    def _next_device_id(conn: object, gate: str, checkpoint: str) -> str:
        base = f"{gate.lower()}-{checkpoint}"
        taken = {
            r[0]
            for r in conn.execute(  # type: ignore[attr-defined]
                "SELECT device FROM device_identities WHERE device LIKE ?", (f"{base}-%",)
            )
        }
        n = 1
        while f"{base}-{n:02d}" in taken:
            n += 1
        return f"{base}-{n:02d}"

    def identity(self, device: str) -> Identity | None:
        row = self.file.one(
            "SELECT device, gate, checkpoints, public_key, broker_password_hash, enrolled_at,"
            " revoked_at FROM device_identities WHERE device = ?",
            (device,),
        )
        if row is None:
            return None
        return Identity(
            row[0], row[1], json.loads(row[2]), load_public(bytes(row[3])), row[4], row[5], row[6]
        )

    def identities(self) -> list[Identity]:
        rows = self.file.all("SELECT device FROM device_identities ORDER BY device")
        found = [self.identity(r[0]) for r in rows]
        return [i for i in found if i is not None]

    def revoke(self, device: str, by: str) -> None:
        with self.file.transaction() as conn:
            cur = conn.execute(
                "UPDATE device_identities SET revoked_at = ?, revoked_by = ? WHERE device = ?"
                " AND revoked_at IS NULL",
                (_now().isoformat(), by, device),
            )
            if cur.rowcount == 0:
                raise EnrolmentError(f"no enrolled, unrevoked box {device!r}")
