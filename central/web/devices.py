"""The fleet: boxes and their state, commands to a box, sync incidents, ingest counters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery, QueryParameter, RequestBody
from litestar.status_codes import HTTP_202_ACCEPTED

from central.accounts import Principal
from central.ingest import CentralLink
from central.roles import CHECKPOINT_OPERATORS, FAULT_RESETTERS, OPERATIONS, STAFF, Role
from central.store import CentralStore, ConflictError, UnknownIncidentError
from central.web.auth import PUBLIC, roles
from central.web.context import audit
from central.web.events import Limit, RowId
from protocol.messages import CheckpointName, Command, DeviceId, PlateReading, Text, UtcTime
from protocol.topics import command as command_topic

#: Which roles may send which command to a box.
COMMAND_ROLES: dict[str, frozenset[Role]] = {
    "open": CHECKPOINT_OPERATORS,
    "reset_fault": FAULT_RESETTERS,
    "resync": OPERATIONS,
    "reload_config": OPERATIONS,
}


class DeviceIncidents(msgspec.Struct):
    open: int
    first_seq: int


class DeviceView(msgspec.Struct):
    device: str
    gate: str | None
    #: the highest seq central holds with every one before it (what it acknowledges)
    acked_seq: int
    max_seq: int
    events: int
    duplicates_ignored: int
    first_seen: str
    last_seen: str
    status: str | None
    state: dict[str, Any] | None
    #: open incidents by kind (a ``seq_conflict`` holds the box's acknowledgements)
    incidents: dict[str, DeviceIncidents]


class Incident(msgspec.Struct):
    id: int
    kind: Literal["seq_conflict", "invalid_event", "change_undeliverable", "forged_batch"]
    device: str
    gate: str
    seq: int
    ref: str
    summary: str
    detail: dict[str, Any]
    first_seen: str
    last_seen: str
    times: int
    resolved_at: str | None
    resolved_by: str | None
    resolution: str | None
    note: str | None


@get("/api/devices", tags=["devices"], sync_to_thread=True, opt=roles(STAFF))
def list_devices(store: NamedDependency[CentralStore]) -> list[DeviceView]:
    """Every gate box seen, with its last state and how far central holds its events."""
    return [msgspec.convert(d, DeviceView) for d in store.list_devices()]


@get("/api/stats", tags=["operations"], sync_to_thread=True, opt=roles(STAFF))
def stats(
    store: NamedDependency[CentralStore], link: NamedDependency[CentralLink | None]
) -> dict[str, Any]:
    """Ingest counters, rejected inputs by kind, open incidents by kind."""
    incidents = store.open_incident_counts()
    if link is None:
        return {
            "mqtt_connected": False,
            "counters": {},
            "rejected": {},
            "rejected_total": 0,
            "incidents_open": incidents,
        }
    return {
        "mqtt_connected": link.connected,
        "counters": dict(link.counters),
        "rejected": link.rejects.snapshot(),
        "rejected_total": link.rejects.total(),
        "incidents_open": incidents,
    }


@get("/", tags=["operations"], sync_to_thread=False, opt=PUBLIC)
def index() -> dict[str, str]:
    """Where things are (no data: everything else needs a login or a token)."""
    return {
        "service": "cuakhau central",
        "schema": "/schema",
        "swagger": "/schema/swagger",
        "login": "/api/login",
        "health": "/health",
    }


@get("/health", tags=["operations"], sync_to_thread=False, opt=PUBLIC)
def health(link: NamedDependency[CentralLink | None]) -> dict[str, Any]:
    return {"ok": True, "mqtt_connected": bool(link and link.connected)}


class CommandRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    action: Literal["open", "reset_fault", "resync", "reload_config"]
    reason: Text = ""
    checkpoint: Annotated[CheckpointName, msgspec.Meta(min_length=1)] | None = None
    #: an open for a held truck may name it (the box then refuses it for another truck)
    plate: PlateReading | None = None
    held_at: UtcTime | None = None


class CommandSent(msgspec.Struct):
    command: Command
    #: reached the broker (the box may be offline: it gets it when back, and refuses a stale
    #: open)
    published: bool


@post(
    "/api/devices/{device:str}/commands",
    tags=["devices"],
    sync_to_thread=True,
    status_code=HTTP_202_ACCEPTED,
    opt=roles(CHECKPOINT_OPERATORS, FAULT_RESETTERS, OPERATIONS),
)
def send_command(
    store: NamedDependency[CentralStore],
    link: NamedDependency[CentralLink | None],
    principal: NamedDependency[Principal],
    request: Request[Any, Any, Any],
    device: FromPath[str],
    data: RequestBody[CommandRequest],
) -> CommandSent:
    """Manual open of a held lane (border guard, yard), fault reset (they and technicians),
    resync or config reload (technicians, admins). ``by`` is the caller, recorded by the box
    in its ``manual_override`` event and here in the audit trail. 202: sent, not done."""
    return issue_command(store, link, principal, request, device, data)


def issue_command(
    store: CentralStore,
    link: CentralLink | None,
    principal: Principal,
    request: Request[Any, Any, Any],
    device: str,
    data: CommandRequest,
) -> CommandSent:
    """Check, audit and publish a command (the API's and the staff UI's way)."""
    try:
        command_topic(device)
    except ValueError as exc:
        raise ClientException(str(exc)) from None
    if principal.role not in COMMAND_ROLES[data.action]:
        raise PermissionDeniedException(f"role {principal.role} may not send {data.action}")
    if data.action == "open" and not data.reason.strip():
        raise ClientException("a manual open needs a reason (it is recorded with the crossing)")
    if not store.device_known(device):
        raise NotFoundException(f"no box {device!r} has ever reported to central")
    command = Command(
        id=str(uuid.uuid4()),
        device=device,
        action=data.action,
        at=datetime.now(UTC),
        by=principal.actor,
        reason=data.reason,
        checkpoint=data.checkpoint,
        plate=data.plate,
        held_at=data.held_at,
    )
    audit(store, principal, request, f"command:{data.action}", f"device:{device}", after=command)
    return CommandSent(command=command, published=bool(link and link.send_command(command)))


@get("/api/incidents", tags=["operations"], sync_to_thread=True, opt=roles(STAFF))
def list_incidents(
    store: NamedDependency[CentralStore],
    device: FromQuery[DeviceId | None] = None,
    kind: FromQuery[
        Literal["seq_conflict", "invalid_event", "change_undeliverable", "forged_batch"] | None
    ] = None,
    open_only: Annotated[bool, QueryParameter(name="open")] = True,
    limit: Limit = 100,
) -> list[Incident]:
    """What needs a person: seq conflicts (the box's ack is held until one is resolved), events
    kept aside as invalid, declaration changes no box could be sent. Newest first."""
    items = store.list_incidents(device=device, kind=kind, open_only=open_only, limit=limit)
    return [msgspec.convert(i, Incident) for i in items]


class Resolution(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    #: which event is the device's at that seq; the other stays in the incident
    keep: Literal["stored", "incoming"]
    note: Annotated[Text, msgspec.Meta(min_length=1)]


class Resolved(msgspec.Struct):
    device: str
    acked_seq: int
    ack_published: bool


@post(
    "/api/incidents/{incident_id:int}/resolve",
    tags=["operations"],
    sync_to_thread=True,
    status_code=200,
    opt=roles(OPERATIONS),
)
def resolve_incident(
    store: NamedDependency[CentralStore],
    link: NamedDependency[CentralLink | None],
    principal: NamedDependency[Principal],
    request: Request[Any, Any, Any],
    incident_id: RowId,
    data: RequestBody[Resolution],
) -> Resolved:
    """Settle a seq conflict; the box is told at once how far central now holds its events."""
    try:
        with store.transaction():
            device, acked = store.resolve_conflict(
                incident_id, data.keep, principal.actor, data.note
            )
            audit(
                store,
                principal,
                request,
                "incident:resolve",
                f"incident:{incident_id}",
                after={"keep": data.keep, "note": data.note, "acked_seq": acked},
            )
    except UnknownIncidentError as exc:
        raise NotFoundException(str(exc)) from None
    except ConflictError as exc:
        raise ClientException(str(exc), status_code=409) from None
    published = bool(link and link.acknowledge(device, acked))
    return Resolved(device=device, acked_seq=acked, ack_published=published)


ROUTES = [index, list_devices, stats, health, send_command, list_incidents, resolve_incident]
