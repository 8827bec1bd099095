"""Central's accounts: staff users (argon2id password hashes), login sessions, API tokens, and
the record of failed logins that rate-limits guessing. Owns the tables ``users``, ``sessions``,
``api_tokens`` and ``login_failures``.

Secrets are never stored: a session id and an API token are random (256 bits) and only their
SHA-256 is kept; a password only as its argon2id hash. There is no default account: the first
admin is made with ``cuakhau central user add``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from central.roles import ROLES, Role
from protocol.errors import UserError
from protocol.sqlite_file import SqliteFile

#: a session lasts this long after login (a shift and a half)
SESSION_HOURS = 12
#: failed logins within this window count against a user name and against a client address
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5  # for one user from one address
MAX_FAILURES_PER_CLIENT = 20
MAX_FAILURES_PER_USER_ANYWHERE = 50
MIN_PASSWORD_LENGTH = 12

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: a Vietnamese tax code: 10 digits, or 10 + "-" + 3 for a branch
_TAX_CODE = re.compile(r"^[0-9]{10}(-[0-9]{3})?$")
_TOKEN_PREFIX = "ckt_"

_hasher = PasswordHasher()
#: argon2 takes 64 MiB a hash: at most this many at once, whatever the number of requests
_HASHING = threading.BoundedSemaphore(4)


#: The staff UI's languages (gettext catalogs in ``central/ui/locale``).
LANGUAGES = ("vi", "en")


class AccountError(UserError, ValueError):
    """A request about accounts that cannot be done as asked (the message says why)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user through a login session, or an API token acting in its role."""

    name: str
    role: Role
    tax_code: str | None
    via: Literal["session", "token"]
    #: the session's CSRF token (sessions only): cookie-authenticated writes must echo it
    csrf: str | None = None
    #: the staff UI's language for this user ("vi" or "en"; tokens: "vi")
    language: str = "vi"

    @property
    def actor(self) -> str:
        """What the audit trail and a box's ``manual_override`` record as ``by``."""
        return self.name if self.via == "session" else f"token:{self.name}"


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    tax_code: str | None
    display_name: str | None
    language: str
    created_at: str
    disabled_at: str | None


@dataclass(frozen=True)
class TokenInfo:
    name: str
    role: Role
    tax_code: str | None
    created_by: str
    created_at: str
    expires_at: str
    revoked_at: str | None
    last_used_at: str | None


def _now() -> datetime:
    return datetime.now(UTC)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_role(role: str, tax_code: str | None) -> Role:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role == "enterprise":
        if not tax_code or not _TAX_CODE.match(tax_code):
            raise AccountError("an enterprise account needs its tax code (10 digits, or 10-3)")
    elif tax_code is not None:
        raise AccountError("only an enterprise account carries a tax code")
    return role


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise AccountError("a password of more than 1024 characters is refused")


class AccountStore:
    def __init__(self, file: SqliteFile) -> None:
        self.file = file

    # -- users -------------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        role: str,
        password: str,
        *,
        tax_code: str | None = None,
        display_name: str | None = None,
        language: str = "vi",
    ) -> User:
        if not _USERNAME.match(username):
            raise AccountError(
                f"user name {username!r}: 2-64 of a-z, 0-9, '.', '_', '-', starting with a"
                " letter or digit"
            )
        checked = check_role(role, tax_code)
        check_password(password)
        if language not in LANGUAGES:
            raise AccountError(f"language is one of {', '.join(LANGUAGES)}, not {language!r}")
        now = _now().isoformat()
        with self.file.transaction() as conn:
            if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise AccountError(f"user {username!r} exists; use passwd to change a password")
            conn.execute(
                "INSERT INTO users(username, role, tax_code, display_name, password_hash,"
                " language, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    username,
                    checked,
                    tax_code,
                    display_name,
                    _hasher.hash(password),
                    language,
                    now,
                    now,
                ),
            )
        user = self.user(username)
        assert user is not None
        return user

    def user(self, username: str) -> User | None:
        row = self.file.one(
            "SELECT username, role, tax_code, display_name, language, created_at, disabled_at"
            " FROM users WHERE username = ?",
            (username,),
        )
        return User(*row) if row else None

    def users(self) -> list[User]:
        return [
            User(*r)
            for r in self.file.all(
                "SELECT username, role, tax_code, display_name, language, created_at,"
                " disabled_at FROM users ORDER BY username"
            )
        ]

    def set_password(self, username: str, password: str) -> None:
        check_password(password)
        with self.file.transaction() as conn:
            cur = conn.execute(
                "UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?",
                (_hasher.hash(password), _now().isoformat(), username),
            )
            if cur.rowcount == 0:
                raise AccountError(f"no user {username!r}")
            conn.execute("DELETE FROM sessions WHERE username = ?", (username,))

    def set_language(self, username: str, language: str) -> None:
        """The user's staff UI language from now on ("vi" or "en")."""
        if language not in LANGUAGES:
            raise AccountError(f"language is one of {', '.join(LANGUAGES)}, not {language!r}")
        with self.file.transaction() as conn:
            conn.execute(
                "UPDATE users SET language = ?, updated_at = ? WHERE username = ?",
                (language, _now().isoformat(), username),
            )

    def disable(self, username: str) -> None:
        """The user can no longer log in; their open sessions end now."""
        with self.file.transaction() as conn:
            cur = conn.execute(
                "UPDATE users SET disabled_at = ?, updated_at = ? WHERE username = ?"
                " AND disabled_at IS NULL",
                (_now().isoformat(), _now().isoformat(), username),
            )
            if cur.rowcount == 0:
                raise AccountError(f"no enabled user {username!r}")
            conn.execute("DELETE FROM sessions WHERE username = ?", (username,))

    # -- logging in --------------------------------------------------------------------------

    def too_many_failures(self, username: str, client: str) -> bool:
        """Too many failed logins lately: for this user from this address, from this address,
        or for this user from anywhere (a higher bar, so no one locks an account out alone)."""
        since = (_now() - FAILURE_WINDOW).isoformat()
        limits = (
            (f"user:{username}|client:{client}", MAX_FAILURES_PER_USER),
            (f"client:{client}", MAX_FAILURES_PER_CLIENT),
            (f"user:{username}", MAX_FAILURES_PER_USER_ANYWHERE),
        )
        for key, limit in limits:
            count = self.file.one(
                "SELECT count(*) FROM login_failures WHERE key = ? AND at > ?", (key, since)
            )[0]
            if count >= limit:
                return True
        return False

    def login(self, username: str, password: str, client: str) -> tuple[str, Principal] | None:
        """A new session (its id, to set as a cookie, and who it is) or None (counted).

        The attempt is counted as a failure before the password is checked (and taken back on
        success), so parallel guesses all count; at most ``_HASHING`` hashes run at once."""
        now = _now()
        keys = [f"user:{username}|client:{client}", f"client:{client}", f"user:{username}"]
        with self.file.transaction() as conn:
            conn.executemany(
                "INSERT INTO login_failures(key, at) VALUES (?, ?)",
                [(key, now.isoformat()) for key in keys],
            )
            conn.execute(
                "DELETE FROM login_failures WHERE at < ?", ((now - FAILURE_WINDOW).isoformat(),)
            )
        row = self.file.one(
            "SELECT password_hash, disabled_at FROM users WHERE username = ?", (username,)
        )
        ok = False
        with _HASHING:
            if row is not None and row[1] is None:
                try:
                    ok = _hasher.verify(row[0], password)
                except (VerifyMismatchError, VerificationError, InvalidHashError):
                    ok = False
            else:
                _hasher.hash(password)  # the same work whether or not the user exists
        if not ok:
            return None
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        with self.file.transaction() as conn:
            conn.execute(
                "INSERT INTO sessions(id_hash, username, csrf, created_at, expires_at, client)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    _sha256(session_id),
                    username,
                    csrf,
                    now.isoformat(),
                    (now + timedelta(hours=SESSION_HOURS)).isoformat(),
                    client,
                ),
            )
            # this attempt was no failure; and the user's failures from here are forgiven
            conn.execute(
                "DELETE FROM login_failures WHERE key IN (?, ?) AND at = ?",
                (f"client:{client}", f"user:{username}", now.isoformat()),
            )
            conn.execute(
                "DELETE FROM login_failures WHERE key = ?", (f"user:{username}|client:{client}",)
            )
            conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now.isoformat(),))
        principal = self.session(session_id)
        assert principal is not None
        return session_id, principal

    def session(self, session_id: str) -> Principal | None:
        row = self.file.one(
            "SELECT u.username, u.role, u.tax_code, s.csrf, u.language FROM sessions s JOIN users u"
            " ON u.username = s.username WHERE s.id_hash = ? AND s.expires_at > ?"
            " AND u.disabled_at IS NULL",
            (_sha256(session_id), _now().isoformat()),
        )
        if row is None:
            return None
        return Principal(row[0], row[1], row[2], "session", csrf=row[3], language=row[4])

    def logout(self, session_id: str) -> None:
        with self.file.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE id_hash = ?", (_sha256(session_id),))

    # -- API tokens --------------------------------------------------------------------------

    def create_token(
        self,
        name: str,
        role: str,
        *,
        created_by: str,
        tax_code: str | None = None,
        expires_days: float = 90,
    ) -> str:
        """A new token, returned once (only its hash is kept)."""
        if not _TOKEN_NAME.match(name):
            raise AccountError(f"token name {name!r}: letters, digits, '.', '_', '-' (max 64)")
        checked = check_role(role, tax_code)
        if not 0 < expires_days <= 3650:
            raise AccountError("a token expires after more than 0 and at most 3650 days")
        token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = _now()
        with self.file.transaction() as conn:
            if conn.execute("SELECT 1 FROM api_tokens WHERE name = ?", (name,)).fetchone():
                raise AccountError(f"a token named {name!r} exists; revoke it or pick a name")
            conn.execute(
                "INSERT INTO api_tokens(name, token_hash, role, tax_code, created_by,"
                " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    _sha256(token),
                    checked,
                    tax_code,
                    created_by,
                    now.isoformat(),
                    (now + timedelta(days=expires_days)).isoformat(),
                ),
            )
        return token

    def token(self, token: str) -> Principal | str:
        """Who a presented token is, or why it is refused (unknown, expired, revoked)."""
        if not token.startswith(_TOKEN_PREFIX) or len(token) > 128:
            return "not a cuakhau API token"
        row = self.file.one(
            "SELECT name, role, tax_code, expires_at, revoked_at FROM api_tokens"
            " WHERE token_hash = ?",
            (_sha256(token),),
        )
        if row is None:
            return "unknown token"
        name, role, tax_code, expires_at, revoked_at = row
        if revoked_at is not None:
            return f"token {name} was revoked at {revoked_at}"
        if expires_at <= _now().isoformat():
            return f"token {name} expired at {expires_at}"
        return Principal(name, role, tax_code, "token")

    def touch_token(self, name: str) -> None:
        with self.file.transaction() as conn:
            conn.execute(
                "UPDATE api_tokens SET last_used_at = ? WHERE name = ?", (_now().isoformat(), name)
            )

    def revoke_token(self, name: str) -> None:
        with self.file.transaction() as conn:
            cur = conn.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (_now().isoformat(), name),
            )
            if cur.rowcount == 0:
                raise AccountError(f"no live token named {name!r}")

    def tokens(self) -> list[TokenInfo]:
        return [
            TokenInfo(*r)
            for r in self.file.all(
                "SELECT name, role, tax_code, created_by, created_at, expires_at, revoked_at,"
                " last_used_at FROM api_tokens ORDER BY name"
            )
        ]
