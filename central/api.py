"""Central's HTTP API (JSON; OpenAPI at ``/schema``)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Litestar, Request, Response, get, post, put
from litestar.datastructures import State
from litestar.exceptions import ClientException, NotFoundException, ValidationException
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED

from central.ingest import CentralLink
from central.store import CentralStore, ConflictError
from protocol.messages import EVENT_KINDS, MAX_INT, Command, Declaration, DeviceId, Name, Text

log = logging.getLogger("cuakhau.central.api")

#: Request bodies, at most: a declaration with every field at its limit is about 40 KiB.
MAX_BODY_BYTES = 256 * 1024

Limit = Annotated[int, Parameter(ge=1, le=1000, description="page size")]
#: Row ids, offsets and seqs: SQLite's signed 64-bit INTEGER, never more.
RowId = Annotated[int, Parameter(ge=0, le=MAX_INT)]
MaybeRowId = Annotated[int | None, Parameter(ge=0, le=MAX_INT)]


class DeclarationPage(msgspec.Struct):
    items: list[Declaration]
    total: int
    limit: int
    offset: int


class EventPage(msgspec.Struct):
    items: list[dict[str, Any]]
    #: pass as ``before`` to get the next (older) page; null on the last page
    next: int | None


class DeclarationSaved(msgspec.Struct):
    declaration: Declaration
    cursor: int
    published: bool


def _store(state: State) -> CentralStore:
    store: CentralStore = state.store
    return store


def _publish(state: State, message: Any) -> bool:
    link: CentralLink | None = state.get("link")
    return bool(link and link.publish_declarations(message))


def _plate_or_400(plate: str | None) -> str | None:
    from protocol.plates import plate_key

    if plate is None:
        return None
    try:
        plate_key(plate)
    except ValueError as exc:
        raise ClientException(str(exc)) from None
    return plate


def _body_plate_or_422(declaration: Declaration) -> None:
    from protocol.plates import plate_key

    for field in ("plate", "trailer_plate"):
        value = getattr(declaration, field)
        if value is None:
            continue
        try:
            plate_key(value)
        except ValueError as exc:
            raise ClientException(
                f"Validation failed: {exc}",
                status_code=422,
                extra=[{"key": field, "message": str(exc), "source": "body"}],
            ) from None


class DeclarationController(Controller):
    path = "/api/declarations"
    tags = ("declarations",)

    @post("/", status_code=HTTP_201_CREATED, sync_to_thread=True)
    def create(self, state: State, data: Declaration) -> DeclarationSaved:
        """Declare a crossing (enterprise side). 409 if the number exists."""
        _body_plate_or_422(data)
        try:
            cursor, message = _store(state).put_declaration(data, must_exist=False)
        except FileExistsError:
            raise ClientException(
                f"declaration {data.number} exists; use PUT to change it", status_code=409
            ) from None
        return DeclarationSaved(declaration=data, cursor=cursor, published=_publish(state, message))

    @put("/{number:str}", sync_to_thread=True)
    def update(self, state: State, number: str, data: Declaration) -> DeclarationSaved:
        """Replace a declaration (e.g. a step confirmed, or returned for re-declaration)."""
        if data.number != number:
            raise ClientException(f"body number {data.number} differs from path {number}")
        _body_plate_or_422(data)
        try:
            cursor, message = _store(state).put_declaration(data, must_exist=True)
        except KeyError:
            raise NotFoundException(f"no declaration {number}") from None
        except ValueError as exc:
            raise ClientException(str(exc), status_code=409) from None
        return DeclarationSaved(declaration=data, cursor=cursor, published=_publish(state, message))

    @get("/", sync_to_thread=True)
    def list_declarations(
        self,
        state: State,
        gate: str | None = None,
        plate: str | None = None,
        status: str | None = None,
        limit: Limit = 100,
        offset: Annotated[int, Parameter(ge=0, le=MAX_INT)] = 0,
    ) -> DeclarationPage:
        items, total = _store(state).list_declarations(
            gate=gate, plate=_plate_or_400(plate), status=status, limit=limit, offset=offset
        )
        return DeclarationPage(items=items, total=total, limit=limit, offset=offset)

    @get("/{number:str}", sync_to_thread=True)
    def get_declaration(self, state: State, number: str) -> Declaration:
        found = _store(state).get_declaration(number)
        if found is None:
            raise NotFoundException(f"no declaration {number}")
        return found


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in EVENT_KINDS:
        raise ClientException(f"unknown event kind {kind!r}; one of {', '.join(EVENT_KINDS)}")


@get("/api/events", tags=["events"], sync_to_thread=True)
def list_events(
    state: State,
    device: str | None = None,
    kind: str | None = None,
    plate: str | None = None,
    checkpoint: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: MaybeRowId = None,
    limit: Limit = 100,
) -> EventPage:
    """Events as the boxes reported them, newest first."""
    _check_kind(kind)
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ClientException(f"{name} needs a timezone, e.g. 2026-11-23T08:00:00Z")
    items, nxt = _store(state).list_events(
        device=device,
        kind=kind,
        plate=_plate_or_400(plate),
        checkpoint=checkpoint,
        since=since,
        until=until,
        before=before,
        limit=limit,
    )
    return EventPage(items=items, next=nxt)


@get("/api/events/{device:str}/{seq:int}", tags=["events"], sync_to_thread=True)
def get_event(state: State, device: str, seq: RowId) -> dict[str, Any]:
    found = _store(state).get_event(device, seq)
    if found is None:
        raise NotFoundException(f"no event {seq} from {device}")
    return found


@get("/api/crossings", tags=["events"], sync_to_thread=True)
def list_crossings(
    state: State,
    device: str | None = None,
    plate: str | None = None,
    checkpoint: str | None = None,
    decision: str | None = None,
    before: MaybeRowId = None,
    limit: Limit = 100,
) -> EventPage:
    """Lane decisions (one per vehicle at a checkpoint), newest first; filter held ones."""
    if decision is not None and decision not in ("open", "hold"):
        raise ClientException("decision is 'open' or 'hold'")
    store = _store(state)
    items: list[dict[str, Any]] = []
    cursor = before
    while len(items) < limit:
        page, cursor = store.list_events(
            device=device,
            kind="lane_decision",
            plate=_plate_or_400(plate),
            checkpoint=checkpoint,
            before=cursor,
            limit=limit,
        )
        items.extend(i for i in page if decision is None or i.get("decision") == decision)
        if cursor is None:
            break
    return EventPage(items=items[:limit], next=cursor)


@get("/api/devices", tags=["devices"], sync_to_thread=True)
def list_devices(state: State) -> list[dict[str, Any]]:
    """Every gate box seen, with its last state and how far central holds its events."""
    return _store(state).list_devices()


@get("/api/stats", tags=["operations"], sync_to_thread=True)
def stats(state: State) -> dict[str, Any]:
    """Ingest counters and rejected inputs by kind."""
    link: CentralLink | None = state.get("link")
    incidents = _store(state).open_incident_counts()
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


@get("/health", tags=["operations"], sync_to_thread=False)
def health(state: State) -> dict[str, Any]:
    link: CentralLink | None = state.get("link")
    return {"ok": True, "mqtt_connected": bool(link and link.connected)}


class CommandRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    action: Literal["open", "reset_fault", "resync", "reload_config"]
    by: Annotated[Name, msgspec.Meta(min_length=1)]
    reason: Text = ""
    checkpoint: (
        Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] | None
    ) = None


class CommandSent(msgspec.Struct):
    command: Command
    published: bool


@post(
    "/api/devices/{device:str}/commands",
    tags=["devices"],
    sync_to_thread=True,
    status_code=HTTP_202_ACCEPTED,
)
def send_command(state: State, device: str, data: CommandRequest) -> CommandSent:
    """Manual override of a held lane, fault reset, resync: sent to the box over MQTT.

    The box answers with a ``manual_override`` event when it opened (202: sent, not done).
    """
    from protocol.topics import command as command_topic

    try:
        command_topic(device)
    except ValueError as exc:
        raise ClientException(str(exc)) from None
    if data.action == "open" and not data.reason.strip():
        raise ClientException("a manual open needs a reason (it is recorded with the crossing)")
    command = Command(
        id=str(uuid.uuid4()),
        device=device,
        action=data.action,
        at=datetime.now(UTC),
        by=data.by,
        reason=data.reason,
        checkpoint=data.checkpoint,
    )
    link: CentralLink | None = state.get("link")
    return CommandSent(command=command, published=bool(link and link.send_command(command)))


@get("/api/incidents", tags=["operations"], sync_to_thread=True)
def list_incidents(
    state: State,
    device: DeviceId | None = None,
    kind: Literal["seq_conflict", "invalid_event", "change_undeliverable"] | None = None,
    open_only: Annotated[bool, Parameter(query="open")] = True,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    """What needs a person: seq conflicts (the box's ack is held until one is resolved), events
    kept aside as invalid, declaration changes no box could be sent. Newest first."""
    return _store(state).list_incidents(device=device, kind=kind, open_only=open_only, limit=limit)


class Resolution(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    #: which event is the device's at that seq; the other stays in the incident
    keep: Literal["stored", "incoming"]
    by: Annotated[Name, msgspec.Meta(min_length=1)]
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
)
def resolve_incident(state: State, incident_id: RowId, data: Resolution) -> Resolved:
    """Settle a seq conflict; the box is told at once how far central now holds its events."""
    try:
        device, acked = _store(state).resolve_conflict(incident_id, data.keep, data.by, data.note)
    except ConflictError as exc:
        raise ClientException(str(exc), status_code=409) from None
    link: CentralLink | None = state.get("link")
    published = bool(link and link.acknowledge(device, acked))
    return Resolved(device=device, acked_seq=acked, ack_published=published)


@get("/api/yards", tags=["events"], sync_to_thread=True)
def yards(state: State) -> dict[str, int]:
    """Trucks in each yard now (yard entries minus exits reported by the yard gates)."""
    return _store(state).yard_occupancy()


ROUTES: list[Any] = [
    send_command,
    list_incidents,
    resolve_incident,
    yards,
    DeclarationController,
    list_events,
    get_event,
    list_crossings,
    list_devices,
    stats,
    health,
]


def _invalid_input(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """400 for a bad query or path parameter; 422 for a body that fails validation, with the
    fields named (``extra``: key, message)."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    in_body = any(isinstance(e, dict) and e.get("source") == "body" for e in extra)
    status = 422 if in_body else 400
    return Response(
        {"status_code": status, "detail": exc.detail, "extra": extra}, status_code=status
    )


def _too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    return Response(
        {"status_code": 400, "detail": "request body nested too deeply"}, status_code=400
    )


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every 500 is logged once, with its traceback; the caller learns nothing internal."""
    log.error(
        "500 on %s %s: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc
    )
    return Response({"status_code": 500, "detail": "Internal Server Error"}, status_code=500)


def build_app(store: CentralStore, link: CentralLink | None) -> Litestar:
    from litestar.openapi.config import OpenAPIConfig

    return Litestar(
        route_handlers=ROUTES,
        state=State({"store": store, "link": link}),
        logging_config=None,
        request_max_body_size=MAX_BODY_BYTES,
        exception_handlers={
            ValidationException: _invalid_input,
            RecursionError: _too_deep,
            500: _internal_error,
        },
        openapi_config=OpenAPIConfig(title="cuakhau central", version="0.1.0", path="/schema"),
        on_shutdown=[lambda: link.stop() if link else None, store.close],
    )
