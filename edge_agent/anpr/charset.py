"""The reader's alphabet: index 0 is the CTC blank."""

from __future__ import annotations

from protocol.plates import CN_PROVINCES

CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" + CN_PROVINCES
BLANK = 0
INDEX = {c: i + 1 for i, c in enumerate(CHARS)}
NUM_CLASSES = len(CHARS) + 1


def encode_text(text: str) -> list[int]:
    """Plate text (letters, digits, province character) to class indices; ValueError if not."""
    try:
        return [INDEX[c] for c in text]
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the reader's alphabet") from None
