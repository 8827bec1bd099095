"""Failures the person running a command can fix. ``cuakhau`` prints their message as
``cuakhau: <message>`` and exits with status 2, never a traceback: so each message says what is
wrong, where (the file, the key, the port) and how to fix it."""

from __future__ import annotations


class UserError(Exception):
    pass


class ConfigError(UserError, ValueError):
    """A config file that cannot be used as it is."""
