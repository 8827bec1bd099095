"""What the boxes reported: events, crossings (lane decisions), plate crops, yard occupancy.
Staff only.

Every list is one indexed statement on a read-only connection (``CentralStore.reads``) under a
time budget: past it the answer is a 503 saying so (never a 500), and a client that hangs up
stops its query (``_read``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import anyio
import anyio.to_thread
import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import FromPath, FromQuery, PathParameter, QueryParameter

from central.crossings import Crossing
from central.evidence_store import EvidenceStore
from central.identities import IdentityStore
from central.roles import STAFF
from central.store import CentralStore
from central.web.auth import roles
from protocol.evidence import Evidence
from protocol.messages import (
    EVENT_KINDS,
    MAX_INT,
    CheckpointName,
    DeclarationNumber,
    DeviceId,
    GateCode,
)
from protocol.plates import plate_key
from protocol.sqlite_file import QueryTimeoutError, ReadBudget, ReadStoppedError

T = TypeVar("T")

log = logging.getLogger("cuakhau.central.api")

Limit = Annotated[int, QueryParameter(ge=1, le=1000, description="page size")]
#: Row ids and seqs: SQLite's signed 64-bit INTEGER, never more (in a path, in a query).
RowId = Annotated[int, PathParameter(ge=0, le=MAX_INT)]
MaybeRowId = Annotated[int | None, QueryParameter(ge=0, le=MAX_INT)]
PlateQuery = Annotated[str | None, QueryParameter(max_length=32)]
Since = Annotated[datetime | None, QueryParameter(description="from this time (with a timezone)")]
Until = Annotated[datetime | None, QueryParameter(description="before this time (with a timezone)")]
CropHash = Annotated[str, PathParameter(pattern=r"^[0-9a-f]{64}$", description="SHA-256, hex")]


class EventPage(msgspec.Struct):
    items: list[dict[str, Any]]
    #: pass as ``before`` to get the next (older) page; null on the last page
    next: int | None


class CrossingPage(msgspec.Struct):
    items: list[Crossing]
    #: pass as ``before`` to get the next (older) page; null on the last page
    next: int | None


def plate_or_400(plate: str | None) -> str | None:
    if plate is None:
        return None
    try:
        plate_key(plate)
    except ValueError as exc:
        raise ClientException(str(exc)) from None
    return plate


def _aware(**times: datetime | None) -> None:
    for name, value in times.items():
        if value is not None and value.tzinfo is None:
            raise ClientException(f"{name} needs a timezone, e.g. 2026-11-23T08:00:00Z")


async def _read(
    request: Request[Any, Any, Any], store: CentralStore, call: Callable[[ReadBudget], T]
) -> T:
    """``call(budget)`` in a worker thread under the store's read budget; if the client hangs
    up meanwhile, the budget is cancelled and SQLite stops the statement."""
    budget = store.read_budget()

    async def watch() -> None:
        while True:  # a GET's (empty) body first, then nothing until the client hangs up
            message = await request.receive()
            if message["type"] == "http.disconnect":
                budget.cancel("the client disconnected")
                return

    failed: Exception | None = None
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(watch)
        try:
            result = await anyio.to_thread.run_sync(call, budget)
        except Exception as exc:  # raised below: a task group would wrap it in a group
            failed = exc
        finally:
            tasks.cancel_scope.cancel()
    if failed is not None:
        raise failed
    return result


def read_stopped(request: Request[Any, Any, Any], exc: ReadStoppedError) -> Response[Any]:
    """A read stopped: past its budget (503, narrow the query or retry), or cancelled because
    central is stopping or the client left (503; nobody may be listening)."""
    query = f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path
    if isinstance(exc, QueryTimeoutError):
        log.warning("read over budget stopped query=%s budget_ms=%.0f", query, exc.budget_s * 1000)
        detail = (
            f"the query ran past its time budget of {exc.budget_s * 1000:.0f} ms and was"
            " stopped; narrow it (a gate, a plate, a declaration, a time range) or retry"
        )
    else:
        log.info("read stopped query=%s why=%r", query, str(exc))
        detail = f"the query was stopped: {exc}"
    return Response(
        {"status_code": 503, "detail": detail}, status_code=503, headers={"Retry-After": "1"}
    )


#: Route options every read here shares: staff only, a stopped read is a clear 503.
_READ: dict[str, Any] = {
    "opt": roles(STAFF),
    "exception_handlers": {ReadStoppedError: read_stopped},
}


@get("/api/events", tags=["events"], **_READ)
async def list_events(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    device: FromQuery[DeviceId | None] = None,
    kind: FromQuery[str | None] = None,
    plate: PlateQuery = None,
    checkpoint: FromQuery[CheckpointName | None] = None,
    since: Since = None,
    until: Until = None,
    before: MaybeRowId = None,
    limit: Limit = 100,
) -> EventPage:
    """Events as the boxes reported them, newest first (by the event's time); a plate crop as
    ``crop`` (its SHA-256) and ``crop_url``."""
    if kind is not None and kind not in (*EVENT_KINDS, "invalid"):
        raise ClientException(f"unknown event kind {kind!r}; one of {', '.join(EVENT_KINDS)}")
    _aware(since=since, until=until)
    checked_plate = plate_or_400(plate)
    items, nxt = await _read(
        request,
        store,
        lambda budget: store.list_events(
            device=device,
            kind=kind,
            plate=checked_plate,
            checkpoint=checkpoint,
            since=since,
            until=until,
            before=before,
            limit=limit,
            budget=budget,
        ),
    )
    return EventPage(items=items, next=nxt)


@get("/api/events/{device:str}/{seq:int}", tags=["events"], **_READ)
async def get_event(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    device: FromPath[str],
    seq: RowId,
) -> dict[str, Any]:
    found = await _read(request, store, lambda budget: store.get_event(device, seq, budget))
    if found is None:
        raise NotFoundException(f"no event {seq} from {device}")
    return found


@get("/api/crossings", tags=["crossings"], **_READ)
async def list_crossings(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    decision: FromQuery[Literal["open", "hold"] | None] = None,
    held: Annotated[
        bool | None, QueryParameter(description="true: held now (a hold nobody has opened yet)")
    ] = None,
    gate: FromQuery[GateCode | None] = None,
    checkpoint: FromQuery[CheckpointName | None] = None,
    device: FromQuery[DeviceId | None] = None,
    plate: Annotated[
        str | None,
        QueryParameter(max_length=32, description="any spelling: 12C-345.67, 12C34567"),
    ] = None,
    declaration: FromQuery[DeclarationNumber | None] = None,
    since: Since = None,
    until: Until = None,
    before: MaybeRowId = None,
    limit: Limit = 100,
) -> CrossingPage:
    """Crossings (one per vehicle at a checkpoint: the lane's decision and the override that
    opened it), newest first. ``held=true`` is the queue of trucks held now."""
    _aware(since=since, until=until)
    checked_plate = plate_or_400(plate)
    items, nxt = await _read(
        request,
        store,
        lambda budget: store.crossings.list(
            decision=decision,
            held=held,
            gate=gate,
            checkpoint=checkpoint,
            device=device,
            plate=checked_plate,
            declaration=declaration,
            since=since,
            until=until,
            before=before,
            limit=limit,
            budget=budget,
        ),
    )
    return CrossingPage(items=items, next=nxt)


@get("/api/crossings/{crossing_id:int}", tags=["crossings"], **_READ)
async def get_crossing(
    request: Request[Any, Any, Any], store: NamedDependency[CentralStore], crossing_id: RowId
) -> Crossing:
    found = await _read(request, store, lambda budget: store.crossings.get(crossing_id, budget))
    if found is None:
        raise NotFoundException(f"no crossing {crossing_id}")
    return found


@get(
    "/api/crossings/{crossing_id:int}/evidence",
    tags=["crossings"],
    sync_to_thread=True,
    opt=roles(STAFF),
)
def crossing_evidence(store: NamedDependency[CentralStore], crossing_id: RowId) -> Evidence:
    """What the box signed about this crossing (its sealed batches, its events' exact bytes,
    its public key): check it offline with ``cuakhau verify crossing ID --export FILE``. 404
    when the box was not enrolled (nothing signed)."""
    found = store.crossings.get(crossing_id)
    if found is None:
        raise NotFoundException(f"no crossing {crossing_id}")
    identity = IdentityStore(store.file).identity(found.device)
    evidence = (
        EvidenceStore(store.file).export(msgspec.to_builtins(found), identity.public_key)
        if identity is not None
        else None
    )
    if evidence is None:
        raise NotFoundException(
            f"no signed evidence for crossing {crossing_id}: {found.device} was not enrolled"
        )
    return evidence


@get("/api/crops/{digest:str}", tags=["crossings"], media_type="image/jpeg", **_READ)
async def get_crop(
    request: Request[Any, Any, Any], store: NamedDependency[CentralStore], digest: CropHash
) -> Response[bytes]:
    """A plate crop's JPEG by its SHA-256 (an event's or a crossing's ``crop``). It never
    changes: clients may keep it."""
    jpeg = await _read(request, store, lambda budget: store.crossings.crop(digest, budget))
    if jpeg is None:
        raise NotFoundException(f"no crop {digest}")
    return Response(
        jpeg,
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=31536000, immutable", "ETag": f'"{digest}"'},
    )


@get("/api/yards", tags=["events"], sync_to_thread=True, opt=roles(STAFF))
def yards(store: NamedDependency[CentralStore]) -> dict[str, int]:
    """Trucks in each yard now (yard entries minus exits reported by the yard gates)."""
    return store.yard_occupancy()


ROUTES = [
    list_events,
    get_event,
    list_crossings,
    get_crossing,
    crossing_evidence,
    get_crop,
    yards,
]
