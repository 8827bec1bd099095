"""One way in for MQTT messages from outside: decode, check whose they are, count refusals.

Central's ingest and the box's sync both take every payload through ``Inbound.take``: a
payload that does not decode, or that names another device (or gate) than the topic it came
on, is refused, counted by kind and logged once; nothing from outside ever raises.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from protocol.codec import ProtocolError, decode
from protocol.rejects import RejectCounter

T = TypeVar("T")


class Inbound:
    def __init__(self, logger: logging.Logger) -> None:
        self.rejects = RejectCounter(logger)

    def take(
        self,
        where: str,
        payload: bytes,
        message_type: type[T],
        *,
        owner: str,
        owner_field: str = "device",
    ) -> T | None:
        """The decoded message, or None after counting why it was refused.

        ``owner`` is who the topic belongs to; the message's ``owner_field`` must name it.
        """
        try:
            message = decode(payload, message_type)
        except ProtocolError as exc:
            self.rejects.reject(where, "decode", str(exc))
            return None
        claimed = getattr(message, owner_field)
        if claimed != owner:
            self.rejects.reject(
                where,
                "ownership",
                f"{message_type.__name__} for {owner_field} {claimed!r} on the topic of {owner!r}",
            )
            return None
        return message

    def reject(self, where: str, what: str, reason: str) -> None:
        self.rejects.reject(where, what, reason)
