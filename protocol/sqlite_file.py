"""Opening SQLite the way every cuakhau store (box and central) wants it: WAL, explicit BEGIN,
and a schema version (``PRAGMA user_version``) brought forward by numbered migrations."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from protocol.errors import UserError

Synchronous = Literal["FULL", "NORMAL", "EXTRA"]

#: One step of a migration: an SQL statement, or a function given the connection inside the
#: migration's transaction, for what SQL alone cannot do (hashing, decoding).
MigrationStep = str | Callable[[sqlite3.Connection], None]
#: One migration: the steps that take a file from version ``n - 1`` to ``n`` (its position in
#: the list, counted from 1). Version 1 is the first release's schema, written with
#: ``IF NOT EXISTS`` so that a file that release made (which carries version 0) upgrades too.
Migration = Sequence[MigrationStep]


@dataclass(frozen=True)
class FileKind:
    """Whose file it is: an SQLite ``application_id`` and a table only its kind has (files
    written before the id was set are told apart by that table)."""

    application_id: int
    marker_table: str
    name: str


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
        kind: FileKind | None = None,
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
        #: transactions this process has committed to the file: a reader that watches for
        #: changes (central's live pages) compares it instead of querying
        self.commits = 0
        self._pools: list[ReadPool] = []
        if migrations:
            self._migrate(migrations, kind)

    @property
    def version(self) -> int:
        with self.lock:
            return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, migrations: Sequence[Migration], kind: FileKind | None) -> None:
        with self.transaction() as conn:
            if kind is not None:
                self._check_kind(conn, kind)
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if current > len(migrations):
                raise SchemaError(
                    f"{self.path}: schema version {current} is newer than this release knows"
                    f" ({len(migrations)}); run the release that wrote it, or a newer one"
                )
            for version in range(current + 1, len(migrations) + 1):
                for step in migrations[version - 1]:
                    if callable(step):
                        step(conn)
                    else:
                        conn.execute(step)
                conn.execute(f"PRAGMA user_version = {version}")

    def _check_kind(self, conn: sqlite3.Connection, kind: FileKind) -> None:
        """Refuse a file made by something else (a box's store given to central, a stranger's
        database) before writing anything to it; mark this one as ours."""
        found = int(conn.execute("PRAGMA application_id").fetchone()[0])
        if found not in (0, kind.application_id):
            raise SchemaError(
                f"{self.path}: not {kind.name} (application id {found:#x}); check the path"
            )
        if found == 0:
            tables = {
                str(r[0])
                for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            } - {"sqlite_sequence"}
            if tables and kind.marker_table not in tables:
                raise SchemaError(
                    f"{self.path}: not {kind.name} (it holds tables {', '.join(sorted(tables)[:4])}"
                    f"{'...' if len(tables) > 4 else ''}); check the path"
                )
            conn.execute(f"PRAGMA application_id = {kind.application_id}")

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
                self.conn.execute("COMMIT")
            except BaseException:
                # a failed COMMIT (the disk full) can leave the transaction open: end it, or
                # every later BEGIN would fail even once there is room again
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
            self.commits += 1

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row of a read (None when there is none), under the lock."""
        with self.lock:
            return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of a read, under the lock."""
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def readers(self, size: int = 4, budget_s: float = 2.0) -> ReadPool:
        """A pool of read-only connections to this file, closed with it (see ``ReadPool``)."""
        pool = ReadPool(self.path, size=size, budget_s=budget_s)
        self._pools.append(pool)
        return pool

    def close(self) -> None:
        for pool in self._pools:
            pool.close()
        with self.lock:
            self.conn.close()


class ReadStoppedError(RuntimeError):
    """A read stopped before it finished (``QueryTimeoutError`` or ``QueryCancelledError``)."""


class QueryTimeoutError(ReadStoppedError):
    """A read ran past its time budget and was stopped."""

    def __init__(self, budget_s: float, detail: str = "") -> None:
        self.budget_s = budget_s
        super().__init__(detail or f"the read ran past its budget of {budget_s * 1000:.0f} ms")


class QueryCancelledError(ReadStoppedError):
    """A read was stopped on purpose: its client left, or the process is stopping."""


class ReadBudget:
    """How long one read may take, and a way to stop it sooner: ``cancel`` (from any thread)
    when its client has gone or the process is stopping. A store's read methods take one."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.cancelled: str | None = None

    def cancel(self, reason: str) -> None:
        if self.cancelled is None:
            self.cancelled = reason

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def stopped(self) -> ReadStoppedError | None:
        """Why the read must stop now (the error to raise), or None."""
        if self.cancelled is not None:
            return QueryCancelledError(self.cancelled)
        if time.monotonic() >= self.deadline:
            return QueryTimeoutError(self.seconds)
        return None


class ReadPool:
    """A few connections that only read (``PRAGMA query_only``), for reads that must never wait
    for the writer or for each other: in WAL mode each reads its own snapshot while the writer
    commits.

    Every read runs under a ``ReadBudget``: SQLite's progress handler stops the statement when
    the budget runs out or is cancelled, and ``interrupt`` stops every read in flight (a process
    that is stopping). A stopped read raises ``QueryTimeoutError`` or ``QueryCancelledError``.
    Waiting for a free connection counts against the budget.
    """

    #: SQLite virtual-machine steps between two looks at the budget (about 0.1 ms of work)
    CHECK_EVERY = 1000

    def __init__(self, path: str | Path, *, size: int = 4, budget_s: float = 2.0) -> None:
        self.path = Path(path)
        self.size = size
        self.budget_s = budget_s
        self._cond = threading.Condition()
        self._idle: list[sqlite3.Connection] = []
        self._open = 0
        self._active: dict[sqlite3.Connection, ReadBudget] = {}
        self._closed: str | None = None
        self._trace: Callable[[str], object] | None = None

    def trace(self, callback: Callable[[str], object] | None) -> None:
        """Call ``callback`` with every statement the pool's connections run from now on
        (profiling, and tests that count a page's reads); None stops it."""
        with self._cond:
            self._trace = callback
            for conn in [*self._idle, *self._active]:
                conn.set_trace_callback(callback)

    def budget(self, seconds: float | None = None) -> ReadBudget:
        return ReadBudget(self.budget_s if seconds is None else seconds)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            str(self.path), isolation_level=None, check_same_thread=False, timeout=5.0
        )
        conn.execute("PRAGMA query_only=ON")
        conn.execute("PRAGMA cache_size=-32768")  # 32 MiB of pages per reader

        def look() -> int:
            budget = self._active.get(conn)
            return 1 if budget is None or budget.stopped() is not None else 0

        conn.set_progress_handler(look, self.CHECK_EVERY)
        if self._trace is not None:
            conn.set_trace_callback(self._trace)
        return conn

    def _acquire(self, budget: ReadBudget) -> sqlite3.Connection:
        with self._cond:
            while True:
                if self._closed is not None:
                    raise QueryCancelledError(self._closed)
                stopped = budget.stopped()
                if stopped is not None:
                    raise stopped
                if self._idle:
                    conn = self._idle.pop()
                    break
                if self._open < self.size:
                    self._open += 1
                    try:
                        conn = self._connect()
                    except BaseException:
                        self._open -= 1
                        raise
                    break
                self._cond.wait(max(0.001, budget.left()))
            self._active[conn] = budget
            return conn

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._cond:
            self._active.pop(conn, None)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if self._closed is None:
                self._idle.append(conn)
            else:
                self._open -= 1
                conn.close()
            self._cond.notify()

    @contextmanager
    def reading(self, budget: ReadBudget | None = None) -> Iterator[sqlite3.Connection]:
        """A connection to read with under ``budget`` (the pool's default when None)."""
        budget = budget or self.budget()
        conn = self._acquire(budget)
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            if "interrupt" not in str(exc):
                raise
            raise budget.stopped() or QueryCancelledError(self._closed or "interrupted") from None
        finally:
            self._release(conn)

    def all(
        self, sql: str, params: Sequence[Any] = (), budget: ReadBudget | None = None
    ) -> list[Any]:
        with self.reading(budget) as conn:
            return conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = (), budget: ReadBudget | None = None) -> Any:
        with self.reading(budget) as conn:
            return conn.execute(sql, params).fetchone()

    def interrupt(self, reason: str) -> None:
        """Stop every read in flight (each raises ``QueryCancelledError`` with ``reason``)."""
        with self._cond:
            for conn, budget in self._active.items():
                budget.cancel(reason)
                conn.interrupt()

    def close(self, reason: str = "the database is closing") -> None:
        """Stop the reads in flight and refuse new ones; each connection closes when free."""
        with self._cond:
            if self._closed is None:
                self._closed = reason
            self.interrupt(reason)
            for conn in self._idle:
                conn.close()
                self._open -= 1
            self._idle.clear()
            self._cond.notify_all()
