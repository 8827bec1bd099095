"""Enrolling and revoking boxes: the identity store, the broker's access files and what a new
box is told (its id, broker, credentials, CA, central's public key), in one place."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.broker_access import BrokerAccess, BrokerAccessError
from central.config import BrokerAccessSettings
from central.identities import Enrolled, IdentityStore
from protocol.signing import public_text

log = logging.getLogger("cuakhau.central.enrolment")


class BrokerInfo(msgspec.Struct):
    host: str
    port: int
    tls: bool


class EnrolmentGrant(msgspec.Struct):
    """What a box receives once, when it enrols."""

    device: str
    gate: str
    checkpoints: list[str]
    broker: BrokerInfo
    username: str
    password: str
    #: the deployment's CA certificate (PEM): the box checks the broker against it
    ca_pem: str | None
    #: central's Ed25519 public key (base64): the box believes only what it signed
    central_key: str


@dataclass
class Enrolment:
    identities: IdentityStore
    key: Ed25519PrivateKey
    settings: BrokerAccessSettings | None
    access: BrokerAccess | None

    def grant(self, enrolled: Enrolled) -> EnrolmentGrant:
        try:
            self.apply()
        except BrokerAccessError as exc:  # the files are written; the box keeps its grant
            log.error("enrolled %s, but %s", enrolled.device, exc)
        ca = Path(self.settings.dir) / "ca.pem" if self.settings else None
        return EnrolmentGrant(
            device=enrolled.device,
            gate=enrolled.gate,
            checkpoints=enrolled.checkpoints,
            broker=BrokerInfo(
                host=self.settings.public_host if self.settings else "127.0.0.1",
                port=self.settings.public_port if self.settings else 1883,
                tls=bool(ca and ca.exists()),
            ),
            username=enrolled.device,
            password=enrolled.broker_password,
            ca_pem=ca.read_text() if ca and ca.exists() else None,
            central_key=public_text(self.key),
        )

    def apply(self) -> None:
        """Write the broker's access files from the identities and reload the broker."""
        if self.access is not None:
            self.access.apply(self.identities.identities())
