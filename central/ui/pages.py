"""What every staff page is given: the user, their language, the gate's clock, the menu their
role sees, and the CSRF token htmx sends with each write (``X-CSRF-Token``, checked by the
app's one guard like every cookie-authenticated write)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request
from litestar.params import QueryParameter
from litestar.response import Template

from central.accounts import Principal
from central.config import UiSettings
from central.roles import AGENCIES, AUDITORS, DECLARATION_READERS, STAFF, Role
from central.store import CentralStore
from central.ui.i18n import (
    N_,
    ROLE_TITLES,
    STATUS_TITLES,
    STEP_TITLES,
    GateClock,
    reason_words,
    translator,
)

#: A page's filters as its forms send them: "" is "any" (a select left on its first option).
GateChoice = Annotated[str, QueryParameter(name="gate", pattern=r"^[A-Z0-9]{0,16}$")]
DirectionChoice = Annotated[
    str, QueryParameter(name="direction", pattern=r"^(import|export|transit)?$")
]
StatusChoice = Annotated[
    str, QueryParameter(name="status", pattern=r"^(declared|accepted|returned|cancelled|exited)?$")
]

#: Who sees which page (the routes' ``opt`` says the same, and the guard enforces it).
HELD_VIEWERS: frozenset[Role] = STAFF
GATE_VIEWERS: frozenset[Role] = STAFF
FLEET_VIEWERS: frozenset[Role] = STAFF
QUEUE_USERS: frozenset[Role] = AGENCIES


@dataclass(frozen=True)
class MenuItem:
    path: str
    title: str
    roles: Collection[Role]


MENU: tuple[MenuItem, ...] = (
    MenuItem("/ui/gate", N_("Gate picture"), GATE_VIEWERS),
    MenuItem("/ui/held", N_("Held trucks"), HELD_VIEWERS),
    MenuItem("/ui/queue", N_("My queue"), QUEUE_USERS),
    MenuItem("/ui/declarations", N_("Declarations"), DECLARATION_READERS),
    MenuItem("/ui/fleet", N_("Fleet"), FLEET_VIEWERS),
    MenuItem("/ui/audit", N_("Audit"), AUDITORS),
)

#: Each role's first page after logging in.
HOME: dict[Role, str] = {
    "border_guard": "/ui/held",
    "yard": "/ui/held",
    "customs": "/ui/queue",
    "medical": "/ui/queue",
    "plant_quarantine": "/ui/queue",
    "animal_quarantine": "/ui/queue",
    "fees": "/ui/queue",
    "technician": "/ui/fleet",
    "enterprise": "/ui/declarations",
}


def gates(store: CentralStore) -> list[str]:
    """The gates the boxes have reported, for the pages' gate filters."""
    return sorted({gate for gate, _status in store.device_status().values() if gate})


def home_of(role: Role) -> str:
    return HOME.get(role, "/ui/gate")


def login_url(next_path: str) -> str:
    return f"/ui/login?next={quote(next_path, safe='/')}"


@dataclass
class Ui:
    """The staff UI's settings and clock, given to its handlers (dependency ``ui``)."""

    settings: UiSettings
    clock: GateClock = field(init=False)
    #: the front-end assets were found (htmx): without them pages work, without live updates
    assets: list[Path] = field(default_factory=list)

    #: live streams open now, by user (``held_stream`` keeps within the limits)
    streams: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.clock = GateClock(self.settings.time_zone)
        self._streams_lock = threading.Lock()

    def stream_allowed(self, user: str, per_user: int, total: int) -> bool:
        with self._streams_lock:
            return self.streams.get(user, 0) < per_user and sum(self.streams.values()) < total

    def open_stream(self, user: str, per_user: int, total: int) -> bool:
        """Count one more live stream for ``user``; False when a limit is reached."""
        with self._streams_lock:
            if self.streams.get(user, 0) >= per_user or sum(self.streams.values()) >= total:
                return False
            self.streams[user] = self.streams.get(user, 0) + 1
            return True

    def close_stream(self, user: str) -> None:
        with self._streams_lock:
            left = self.streams.get(user, 0) - 1
            if left > 0:
                self.streams[user] = left
            else:
                self.streams.pop(user, None)

    def words(self, principal: Principal | None) -> dict[str, Any]:
        """The template helpers of one user's language."""
        _ = translator(principal.language if principal else "vi")

        def title(words: dict[str, str]) -> Callable[[str], str]:
            return lambda key: _(words.get(key, key))

        return {
            "_": _,
            "reason_words": lambda code: reason_words(code, _),
            "step_title": title(STEP_TITLES),
            "status_title": title(STATUS_TITLES),
            "role_title": title(ROLE_TITLES),
            "clock": self.clock,
        }

    def page(
        self,
        request: Request[Any, Any, Any],
        principal: Principal | None,
        template: str,
        title: str,
        *,
        status: int = 200,
        **context: Any,
    ) -> Template:
        menu = [item for item in MENU if principal is not None and principal.role in item.roles]
        return Template(
            template_name=template,
            status_code=status,
            context={
                **self.words(principal),
                "title": title,
                "user": principal,
                "lang": principal.language if principal else "vi",
                "menu": menu,
                "path": request.url.path,
                "csrf": principal.csrf if principal else None,
                "live": bool(self.assets),
                **context,
            },
        )

    def fragment(self, principal: Principal, template: str, **context: Any) -> Template:
        """A piece of a page (htmx swaps it in)."""
        return Template(
            template_name=template,
            context={**self.words(principal), "user": principal, **context},
        )
