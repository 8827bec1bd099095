"""Enrolling gate boxes over HTTP: an enrolment token for a technician, the box's one call
with it, the list of enrolled boxes, revocation."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import FromPath, RequestBody
from litestar.status_codes import HTTP_201_CREATED

from central.accounts import Principal
from central.enrolment import Enrolment, EnrolmentGrant
from central.identities import EnrolmentError
from central.roles import OPERATIONS, STAFF
from central.store import CentralStore
from central.web.auth import PUBLIC, client_address, roles
from central.web.context import audit
from protocol.signing import SignatureError, public_text

log = logging.getLogger("cuakhau.central.enrolment")


class NewEnrolment(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    gate: Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{1,16}$")]
    checkpoints: Annotated[list[str], msgspec.Meta(min_length=1, max_length=8)]
    expires_hours: Annotated[float, msgspec.Meta(gt=0, le=720)] = 24


class EnrolmentToken(msgspec.Struct):
    #: give it to the technician; usable once, until it expires
    token: str
    gate: str
    checkpoints: list[str]
    expires_hours: float


@post(
    "/api/enrolments",
    tags=["enrolment"],
    sync_to_thread=True,
    status_code=HTTP_201_CREATED,
    opt=roles(OPERATIONS),
)
def create_enrolment(
    store: NamedDependency[CentralStore],
    enrolment: NamedDependency[Enrolment],
    principal: NamedDependency[Principal],
    request: Request[Any, Any, Any],
    data: RequestBody[NewEnrolment],
) -> EnrolmentToken:
    """A one-time enrolment token for a box at ``gate`` running ``checkpoints``."""
    try:
        with store.transaction():
            token = enrolment.identities.create_enrolment(
                data.gate, data.checkpoints, principal.actor, data.expires_hours
            )
            audit(
                store,
                principal,
                request,
                "enrolment:create",
                f"gate:{data.gate}",
                after={"checkpoints": data.checkpoints, "expires_hours": data.expires_hours},
            )
    except EnrolmentError as exc:
        raise ClientException(str(exc), status_code=422) from None
    return EnrolmentToken(
        token=token, gate=data.gate, checkpoints=data.checkpoints, expires_hours=data.expires_hours
    )


class EnrolRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=8, max_length=128)]
    #: the box's Ed25519 public key, base64
    public_key: Annotated[str, msgspec.Meta(max_length=64)]
    hostname: Annotated[str, msgspec.Meta(max_length=128)] | None = None


@post("/api/enrol", tags=["enrolment"], status_code=HTTP_201_CREATED, opt=PUBLIC)
async def enrol(
    store: NamedDependency[CentralStore],
    enrolment: NamedDependency[Enrolment],
    request: Request[Any, Any, Any],
    data: RequestBody[EnrolRequest],
) -> EnrolmentGrant:
    """A box enrols itself with a token from central's admin or technician (the token is its
    credential: unknown, used or expired ones are refused)."""
    client = client_address(request)
    try:
        enrolled = await anyio.to_thread.run_sync(
            enrolment.identities.enrol, data.token, data.public_key, data.hostname
        )
    except (EnrolmentError, SignatureError) as exc:
        log.warning("enrolment refused client=%s: %s", client, exc)
        raise ClientException(str(exc), status_code=403) from None
    log.info("box enrolled device=%s gate=%s client=%s", enrolled.device, enrolled.gate, client)
    await anyio.to_thread.run_sync(
        lambda: store.audit.record_as(
            f"box:{enrolled.device}",
            "box",
            "identity:enrol",
            f"device:{enrolled.device}",
            after={
                "gate": enrolled.gate,
                "checkpoints": enrolled.checkpoints,
                "hostname": data.hostname,
            },
            client=client,
        )
    )
    return await anyio.to_thread.run_sync(enrolment.grant, enrolled)


class IdentityView(msgspec.Struct):
    device: str
    gate: str
    checkpoints: list[str]
    public_key: str
    enrolled_at: str
    revoked_at: str | None


@get("/api/identities", tags=["enrolment"], sync_to_thread=True, opt=roles(STAFF))
def list_identities(enrolment: NamedDependency[Enrolment]) -> list[IdentityView]:
    """Every enrolled box, with its public key (its events verify against it)."""
    return [
        IdentityView(
            device=i.device,
            gate=i.gate,
            checkpoints=i.checkpoints,
            public_key=public_text(i.public_key),
            enrolled_at=i.enrolled_at,
            revoked_at=i.revoked_at,
        )
        for i in enrolment.identities.identities()
    ]


@post(
    "/api/identities/{device:str}/revoke",
    tags=["enrolment"],
    sync_to_thread=True,
    status_code=200,
    opt=roles(OPERATIONS),
)
def revoke(
    store: NamedDependency[CentralStore],
    enrolment: NamedDependency[Enrolment],
    principal: NamedDependency[Principal],
    request: Request[Any, Any, Any],
    device: FromPath[str],
) -> dict[str, str]:
    """The box loses its broker account now and its events are refused from now on; its
    public key stays, so what it sent before stays verifiable."""
    try:
        with store.transaction():
            enrolment.identities.revoke(device, principal.actor)
            store.set_device_status(device, "revoked")
            audit(store, principal, request, "identity:revoke", f"device:{device}")
    except EnrolmentError as exc:
        raise NotFoundException(str(exc)) from None
    enrolment.apply()
    return {"revoked": device}


ROUTES = [create_enrolment, enrol, list_identities, revoke]
