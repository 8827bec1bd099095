"""Reading a TOML config file into a msgspec Struct: every failure is one ``ConfigError``
naming the file (missing, a directory, unreadable, not text, not TOML, a wrong key or value)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from protocol.errors import ConfigError

T = TypeVar("T")

#: Config files are small; anything bigger is a wrong path.
MAX_CONFIG_BYTES = 1024 * 1024


def load_toml(path: str | Path, config_type: type[T]) -> T:
    path = Path(path)
    raw = _read(path)
    try:
        return msgspec.convert(raw, config_type)
    except (msgspec.ValidationError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(f"{path}: no such config file")
    if not path.is_file():
        raise ConfigError(f"{path}: not a file (a directory?); give the path of a .toml file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {len(data)} bytes is no config file (at most 1 MiB)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (TOML in UTF-8 expected)") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def check_readable(path: str | None, what: str, config: Path) -> None:
    """A file a config names (a password, a CA certificate) must exist and be readable."""
    if path is None:
        return
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{config}: {what} {path!r} cannot be read ({exc.strerror}); fix the path"
        ) from None
