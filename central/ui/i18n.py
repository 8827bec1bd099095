"""The staff UI's words and times: gettext catalogs per language, and the gate's clock.

The source strings are English; ``locale/<lang>/LC_MESSAGES/messages.po`` (Babel's PO format)
holds each other language and is compiled in memory when first used, so no build step leaves
a compiled catalog to go stale. Each user picks a language (``users.language``). Times are
shown in the gate's time zone (``Asia/Ho_Chi_Minh`` unless configured).
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from central.accounts import LANGUAGES

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: The language the UI is written in (no catalog needed).
SOURCE_LANGUAGE = "en"
GATE_TIME_ZONE = "Asia/Ho_Chi_Minh"


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark for translation only"
    """Marks a string for the catalogs; it is translated where it is shown."""
    return message


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of ``language`` (English: the source strings themselves)."""
    if language not in LANGUAGES:
        raise ValueError(f"no catalog for language {language!r}")
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def translator(language: str) -> Callable[[str], str]:
    return translations(language if language in LANGUAGES else LANGUAGES[0]).gettext


#: The lane's reason codes (``edge_agent.lane.policy``) in words; a ``step_missing:<step>``
#: reason names its step (``STEP_TITLES``).
REASONS: dict[str, str] = {
    "no_plate_read": N_("no plate could be read"),
    "unknown_plate": N_("no declaration for this plate"),
    "declaration_returned": N_("the declaration was returned for re-declaration"),
    "declaration_status": N_("the declaration is not accepted yet"),
    "step_missing": N_("step not confirmed"),
    "weight_missing": N_("no weight from the weighbridge"),
    "weight_unstable": N_("the weighbridge never settled"),
    "weight_mismatch": N_("weighed weight differs from the declared weight"),
    "overweight": N_("over the legal gross weight"),
    "yard_full": N_("the yard is full"),
}

#: The agencies' steps (``central.lifecycle.STEPS``) in words.
STEP_TITLES: dict[str, str] = {
    "medical_check": N_("medical check"),
    "border_guard": N_("border guard check"),
    "customs_arrival": N_("customs arrival"),
    "in_yard": N_("in yard"),
    "customs_check": N_("customs check / inspection"),
    "plant_quarantine": N_("plant quarantine"),
    "animal_quarantine": N_("animal quarantine"),
    "loading_registered": N_("loading / transshipment registered"),
    "loading_approved": N_("loading / transshipment approved"),
    "fees_paid": N_("infrastructure fees paid"),
    "out_of_yard": N_("out of yard"),
    "exit": N_("exit"),
}

#: The roles in words.
ROLE_TITLES: dict[str, str] = {
    "admin": N_("administrator"),
    "border_guard": N_("border guard"),
    "customs": N_("customs"),
    "medical": N_("medical quarantine"),
    "plant_quarantine": N_("plant quarantine"),
    "animal_quarantine": N_("animal quarantine"),
    "yard": N_("yard operator"),
    "fees": N_("fees"),
    "traffic_police": N_("traffic police"),
    "technician": N_("technician"),
    "viewer": N_("viewer"),
    "enterprise": N_("enterprise"),
}

#: A declaration's statuses in words.
STATUS_TITLES: dict[str, str] = {
    "declared": N_("declared"),
    "accepted": N_("accepted"),
    "returned": N_("returned"),
    "cancelled": N_("cancelled"),
    "exited": N_("exited"),
}


def reason_code(reason: str) -> str:
    """A lane's reason without its English words: ``step_missing:fees_paid: fees_paid not
    confirmed`` is ``step_missing:fees_paid``."""
    return reason.split(": ", 1)[0].strip()


def reason_words(reason: str, _: Callable[[str], str]) -> str:
    """One of a lane's reasons in the user's language (an unknown one is shown as it is)."""
    kind, _sep, detail = reason_code(reason).partition(":")
    words = REASONS.get(kind)
    if words is None:
        return reason
    if kind == "step_missing" and detail:
        return f"{_(words)}: {_(STEP_TITLES.get(detail, detail))}"
    return _(words)


class GateClock:
    """Times as the gate reads them."""

    def __init__(self, zone: str = GATE_TIME_ZONE) -> None:
        self.zone = ZoneInfo(zone)

    def local(self, at: datetime | str | None) -> datetime | None:
        if at is None:
            return None
        if isinstance(at, str):
            try:
                at = datetime.fromisoformat(at)
            except ValueError:
                return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return at.astimezone(self.zone)

    def time(self, at: datetime | str | None) -> str:
        local = self.local(at)
        return local.strftime("%H:%M:%S") if local else "—"

    def when(self, at: datetime | str | None) -> str:
        """The time of day if it was today at the gate, else the date and time."""
        local = self.local(at)
        if local is None:
            return "—"
        if local.date() == self.now().date():
            return local.strftime("%H:%M:%S")
        return local.strftime("%d/%m %H:%M")

    def stamp(self, at: datetime | str | None) -> str:
        local = self.local(at)
        return local.strftime("%d/%m/%Y %H:%M:%S") if local else "—"

    def now(self) -> datetime:
        return datetime.now(self.zone)

    def day_start(self, day: datetime | None = None) -> datetime:
        """Midnight of the gate's day (today's by default), as an aware datetime."""
        local = (day or self.now()).astimezone(self.zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
