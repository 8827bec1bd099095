"""The held-truck console: every crossing held now at a gate, with its evidence (plate crop,
reading and confidence, the declaration it matched, weights, the reasons in words) and the
actions the user's role allows; kept live over Server-Sent Events.

A page of held trucks costs five reads whatever its length (crossings, confidences,
declarations, recent open commands, boxes' status); the recent decisions two more. The stream
re-reads when this process has committed a write (an event ingested, a declaration changed, a
command sent: ``SqliteFile.commits``) and every ``REFRESH_S`` anyway (another central worker's
writes), and sends only what changed: a new card, a card gone, a card's status, the recent list.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import anyio.to_thread
from jinja2 import Environment
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.response import ServerSentEvent, ServerSentEventMessage, Template

from central.accounts import Principal
from central.crossings import Crossing
from central.lifecycle import STEPS
from central.roles import ACCEPTORS, AGENCIES, CHECKPOINT_OPERATORS, Role
from central.store import CentralStore
from central.ui.i18n import N_, reason_code
from central.ui.pages import HELD_VIEWERS, GateChoice, Ui, gates
from central.web.auth import SESSION_COOKIE, roles
from protocol.messages import Declaration
from protocol.sqlite_file import ReadBudget

#: At most this many held cards (the oldest beyond it wait for the ones above to be settled).
HELD_LIMIT = 50
RECENT_LIMIT = 10
#: A box refuses an open command older than this (``edge_agent.sync.outbox_sync``).
COMMAND_MAX_AGE = timedelta(seconds=300)
TICK_S = 0.25
REFRESH_S = 5.0
#: Live consoles open at once: per user (a few tabs) and in all (each costs a few reads a
#: second while the gate is busy); beyond them the stream is refused with 429.
STREAMS_PER_USER = 8
STREAMS_TOTAL = 200


@dataclass(frozen=True)
class CommandState:
    """The latest manual open sent for a held crossing, and what became of it."""

    by: str
    at: datetime
    reason: str
    #: "waiting" (sent, the box has not reported the open yet), "offline" (the box is
    #: offline: the command waits for it), "stale" (too old: the box refuses it)
    state: str


@dataclass(frozen=True)
class Card:
    crossing: Crossing
    confidence: float | None
    declaration: Declaration | None
    #: the missing steps the reasons name, and those this user's role may confirm
    missing: list[str]
    confirmable: list[str]
    command: CommandState | None
    online: bool | None
    legal_kg: float | None

    @property
    def status_key(self) -> str:
        """What the card's status line shows (a change re-sends the line)."""
        c = self.command
        status = self.declaration.status if self.declaration else None
        return f"{status}|{self.online}|{c and (c.at, c.state)}"

    @property
    def body_key(self) -> str:
        """What the rest of the card shows (a change re-sends the card)."""
        d = self.declaration
        weight = d.declared_weight_kg if d else None
        return f"{d and d.status}|{weight}|{self.missing}|{self.confirmable}"


def _missing_steps(reasons: list[str]) -> list[str]:
    codes = [reason_code(r) for r in reasons]
    return [c.partition(":")[2] for c in codes if c.startswith("step_missing:")]


def _commands(store: CentralStore, since: datetime, budget: ReadBudget) -> list[dict[str, Any]]:
    rows = store.audit.recent("command:open", since, budget=budget)
    return [r["after"] for r in rows if isinstance(r.get("after"), dict)]


def _command_for(
    crossing: Crossing, commands: list[dict[str, Any]], online: bool | None, now: datetime
) -> CommandState | None:
    for command in commands:  # newest first
        if command.get("device") != crossing.device:
            continue
        if command.get("checkpoint") not in (None, crossing.checkpoint):
            continue
        try:
            at = datetime.fromisoformat(str(command.get("at")))
        except ValueError:
            continue
        if at < crossing.at:
            continue
        if now - at > COMMAND_MAX_AGE:
            state = "stale"
        elif online is False:
            state = "offline"
        else:
            state = "waiting"
        return CommandState(str(command.get("by")), at, str(command.get("reason", "")), state)
    return None


def held_now(
    store: CentralStore, gate: str | None, limit: int, budget: ReadBudget
) -> list[Crossing]:
    """The crossings held now whose truck is still at the lane (its lane has not decided
    again since), newest first (one read, on their own partial index)."""
    crossings, _next = store.crossings.list(at_lane=True, gate=gate, limit=limit, budget=budget)
    return crossings


def held_cards(
    store: CentralStore, ui: Ui, role: Role, gate: str | None, limit: int = HELD_LIMIT
) -> list[Card]:
    """The held crossings still at their lane (newest first: a lane that has decided again
    since has moved on) with what their cards show (five reads)."""
    budget = store.read_budget()
    crossings = held_now(store, gate, limit, budget)
    if not crossings:
        return []
    confidences = store.crossings.plate_confidences(crossings, budget)
    declarations = store.declarations_by_number(
        [c.declaration for c in crossings if c.declaration], budget
    )
    now = datetime.now(UTC)
    commands = _commands(store, now - COMMAND_MAX_AGE * 2, budget)
    online = {d: status == "online" for d, (_g, status) in store.device_status(budget).items()}
    legal = ui.settings.legal_gross_kg
    cards = []
    for c in crossings:
        declaration = declarations.get(c.declaration or "")
        missing = _missing_steps(c.reasons)
        if declaration is not None:
            missing = [
                s for s in missing if not (declaration.steps.get(s) and declaration.steps[s].done)
            ]
        klass = (declaration.vehicle_class if declaration else None) or "default"
        cards.append(
            Card(
                crossing=c,
                confidence=confidences.get(c.id),
                declaration=declaration,
                missing=missing,
                confirmable=[
                    s
                    for s in missing
                    if s in STEPS
                    and STEPS[s].role == role
                    and declaration is not None
                    and declaration.status == "accepted"
                ],
                command=_command_for(c, commands, online.get(c.device), now),
                online=online.get(c.device),
                legal_kg=legal.get(klass, legal.get("default")),
            )
        )
    return cards


@dataclass(frozen=True)
class Recent:
    crossing: Crossing
    #: the barrier reported the open confirmed by its limit switch (None: not reported yet)
    barrier_confirmed: bool | None
    #: held, and its lane has decided again since (the truck left)
    moved_on: bool


def recent_decisions(store: CentralStore, gate: str | None) -> list[Recent]:
    """The latest decisions (two reads)."""
    budget = store.read_budget()
    crossings, _next = store.crossings.list(gate=gate, limit=RECENT_LIMIT, budget=budget)
    confirmed = store.crossings.barrier_opened(crossings, budget)
    return [Recent(c, confirmed.get(c.id), c.moved_on is not None) for c in crossings]


def _still_logged_in(store: CentralStore, principal: Principal, credential: str) -> bool:
    if not credential:
        return False
    if principal.via == "session":
        return store.accounts.session(credential) is not None
    return not isinstance(store.accounts.token(credential), str)  # a string says why not


def abilities(role: Role) -> dict[str, bool]:
    """Which of a held card's actions the role has (the routes refuse the others anyway)."""
    return {
        "can_open": role in CHECKPOINT_OPERATORS,
        "can_return": role in AGENCIES,
        "can_accept": role in ACCEPTORS,
    }


@get("/ui/held", sync_to_thread=True, opt=roles(HELD_VIEWERS), include_in_schema=False)
def held_page(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    ui: NamedDependency[Ui],
    principal: NamedDependency[Principal],
    gate_choice: GateChoice = "",
) -> Template:
    gate = gate_choice or None
    return ui.page(
        request,
        principal,
        "held.html",
        N_("Held trucks"),
        gate=gate,
        gates=gates(store),
        cards=held_cards(store, ui, principal.role, gate),
        recent=recent_decisions(store, gate),
        **abilities(principal.role),
        stream=f"/ui/held/stream?gate={gate}" if gate else "/ui/held/stream",
    )


def _one_line(html: str) -> str:
    return " ".join(line.strip() for line in html.splitlines() if line.strip())


class HeldStream:
    """What one open console has been sent, and what to send it next."""

    def __init__(self, env: Environment, words: dict[str, Any], principal: Principal) -> None:
        self.env = env
        self.context = {**words, "user": principal, **abilities(principal.role)}
        self.shown: dict[int, tuple[str, str]] | None = None
        self.recent: str | None = None

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**self.context, **context)

    def update(self, cards: list[Card], recent: list[Recent]) -> str:
        """The out-of-band swaps that bring the page from what it shows to ``cards``."""
        parts: list[str] = []
        now = {card.crossing.id: card for card in cards}
        if self.shown is None:
            body = "".join(self.render("_held_card.html", card=card) for card in cards)
            parts.append(f'<div id="held-list" hx-swap-oob="innerHTML">{body}</div>')
        else:
            for gone in self.shown.keys() - now.keys():
                parts.append(f'<div id="held-{gone}" hx-swap-oob="delete"></div>')
            for card in reversed(cards):  # oldest first, each on top: newest ends on top
                if card.crossing.id not in self.shown:
                    html = self.render("_held_card.html", card=card)
                    parts.append(f'<div hx-swap-oob="afterbegin:#held-list">{html}</div>')
                elif self.shown[card.crossing.id][1] != card.body_key:
                    parts.append(self.render("_held_card.html", card=card, card_oob=True))
                elif self.shown[card.crossing.id][0] != card.status_key:
                    parts.append(self.render("_held_status.html", card=card, oob=True))
        self.shown = {i: (card.status_key, card.body_key) for i, card in now.items()}
        count = len(cards)
        parts.append(f'<span id="held-count" hx-swap-oob="innerHTML">{count}</span>')
        recent_html = self.render("_recent.html", recent=recent)
        if recent_html != self.recent:
            self.recent = recent_html
            parts.append(f'<div id="recent-list" hx-swap-oob="innerHTML">{recent_html}</div>')
        return _one_line("".join(parts))


@get("/ui/held/stream", opt=roles(HELD_VIEWERS), include_in_schema=False, sync_to_thread=False)
def held_stream(
    request: Request[Any, Any, Any],
    store: NamedDependency[CentralStore],
    ui: NamedDependency[Ui],
    principal: NamedDependency[Principal],
    gate_choice: GateChoice = "",
) -> ServerSentEvent:
    """The console's live updates (``text/event-stream``; event ``held``: htmx swaps). The
    stream ends when the login it was opened with ends (logged out, expired, disabled)."""
    gate = gate_choice or None
    # the credential the stream was opened with, looked up again every REFRESH_S
    credential = (
        request.cookies.get(SESSION_COOKIE, "")[:256]
        if principal.via == "session"
        else request.headers.get("authorization", "").partition(" ")[2].strip()
    )
    env: Environment = request.app.template_engine.engine  # type: ignore[union-attr]
    stream = HeldStream(env, ui.words(principal), principal)
    if not ui.stream_allowed(principal.name, STREAMS_PER_USER, STREAMS_TOTAL):
        raise ClientException("too many live consoles open; close one", status_code=429)

    async def updates() -> AsyncIterator[ServerSentEventMessage]:
        # counted while it runs (a stream whose client left before it started never counts)
        if not ui.open_stream(principal.name, STREAMS_PER_USER, STREAMS_TOTAL):
            return
        try:
            async for message in _updates():
                yield message
        finally:
            ui.close_stream(principal.name)

    async def _updates() -> AsyncIterator[ServerSentEventMessage]:
        seen = -1
        last = 0.0
        while True:
            commits = store.file.commits
            if commits != seen or time.monotonic() - last > REFRESH_S:
                if time.monotonic() - last > REFRESH_S and not await anyio.to_thread.run_sync(
                    _still_logged_in, store, principal, credential
                ):
                    return
                seen, last = commits, time.monotonic()
                cards = await anyio.to_thread.run_sync(held_cards, store, ui, principal.role, gate)
                recent = await anyio.to_thread.run_sync(recent_decisions, store, gate)
                yield ServerSentEventMessage(data=stream.update(cards, recent), event="held")
            await anyio.sleep(TICK_S)

    return ServerSentEvent(updates())


ROUTES = [held_page, held_stream]
