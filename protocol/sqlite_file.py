"""Opening SQLite the way every cuakhau store (box and central) wants it: WAL, explicit BEGIN,
and a schema version (``PRAGMA user_version``) brought forward by numbered migrations."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from protocol.errors import UserError

Synchronous = Literal["FULL", "NORMAL", "EXTRA"]

#: One migration: the SQL statements that take a file from version ``n - 1`` to ``n`` (its
#: position in the list, counted from 1). Version 1 is the first release's schema, written with
#: ``IF NOT EXISTS`` so that a file that release made (which carries version 0) upgrades too.
Migration = Sequence[str]


class SchemaError(UserError, RuntimeError):
    """The file's schema is newer than this code knows (written by a later release)."""


class StoreOpenError(UserError, OSError):
    """The database file cannot be opened (a wrong path, no permission, not a database)."""


class SqliteFile:
    """One SQLite connection in WAL mode, shared by threads under a lock.

    The connection runs in autocommit mode; ``transaction()`` issues ``BEGIN IMMEDIATE`` so a
    writer takes the write lock up front and either everything in the block commits or nothing.
    Stores use ``read()`` and ``transaction()``; nothing outside a store touches the connection.
    """

    def __init__(
        self,
        path: str | Path,
        synchronous: Synchronous = "FULL",
        *,
        migrations: Sequence[Migration] = (),
        create: bool = True,
    ) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such database")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=30.0
            )
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except (OSError, sqlite3.DatabaseError) as exc:
            raise StoreOpenError(
                f"{self.path}: cannot open it as a database ({exc}); check the path, its"
                " folder's permissions, and that it is a cuakhau SQLite file"
            ) from None
        if str(mode).lower() != "wal":
            raise RuntimeError(f"{self.path}: SQLite refused WAL mode (got {mode!r})")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA foreign_keys=ON")
        self.conn = conn
        self.lock = threading.RLock()
        self._depth = 0
        if migrations:
            self._migrate(migrations)

    @property
    def version(self) -> int:
        with self.lock:
            return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        with self.transaction() as conn:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if current > len(migrations):
                raise SchemaError(
                    f"{self.path}: schema version {current} is newer than this release knows"
                    f" ({len(migrations)}); run the release that wrote it, or a newer one"
                )
            for version in range(current + 1, len(migrations) + 1):
                for statement in migrations[version - 1]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Everything inside commits together or not at all (nested calls join the outer one)."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self._depth = 0
                self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self.conn.execute("COMMIT")

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row of a read (None when there is none), under the lock."""
        with self.lock:
            return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of a read, under the lock."""
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self.lock:
            self.conn.close()
