"""Opening the workspace database: WAL, busy timeout, foreign keys, migrations.

Every connection goes through `connect`, so the pragmas are never forgotten. Writers keep
transactions short (one chunk); readers (the TUI) open with `readonly=True`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from engine.errors import DAMAGED_FIX, WorkspaceBusy, WorkspaceError
from engine.store.schema import DATA_STEPS, MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 30_000  # how long a command's write waits for the lock before WorkspaceBusy
JOB_BUSY_TIMEOUT_MS = 600_000  # a job's writes wait longer: a job never dies of a busy moment
NOTICE_AFTER_MS = 2_000  # a writer that waited this long says who it waits for
log = logging.getLogger("betr.workspace")
log.addHandler(logging.NullHandler())  # the faces decide where waiting notices go
DB_FILENAME = "betr.sqlite"
WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes the WAL file keeps after a checkpoint empties it
RETRY_BUSY_S = 600.0  # how long a write that must land (a job's final state) keeps trying
T = TypeVar("T")


def connect(path: Path, *, readonly: bool = False, migrate: bool = True) -> sqlite3.Connection:
    """Open `path` with the workspace pragmas; apply pending migrations unless read-only.

    Autocommit mode (isolation_level=None): callers open transactions explicitly with
    `transaction(conn)`, so nothing is held open between chunks.
    """
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        if not path.exists():
            # created owner-only before SQLite opens it; -wal/-shm inherit these permissions
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        return _configure(conn, path, readonly=readonly, migrate=migrate)
    except sqlite3.DatabaseError as exc:
        conn.close()
        if is_damaged_database(exc):
            raise WorkspaceError(
                f"cannot open the workspace database {path}: {exc}", fix=DAMAGED_FIX
            ) from None
        raise


def _configure(
    conn: sqlite3.Connection, path: Path, *, readonly: bool, migrate: bool
) -> sqlite3.Connection:
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        # a checkpoint that empties the WAL also shrinks it back to this size: after a big
        # import (a 1M-doc one left a 1 GB WAL) the space returns to the disk
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
    check_version(conn, path)
    if migrate and not readonly:
        apply_migrations(conn)
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def check_version(conn: sqlite3.Connection, path: Path) -> None:
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise WorkspaceError(
            f"{path} has schema version {version}, but this betr knows versions up to "
            f"{SCHEMA_VERSION}: it was made by a newer betr-tui",
            fix="upgrade betr-tui (pip install -U betr-tui), or open another workspace",
        )


def apply_migrations(conn: sqlite3.Connection) -> int:
    """Apply every migration after `user_version`, each in its own transaction: its SQL,
    then its data step (schema.DATA_STEPS) if it has one, then the new user_version."""
    version = schema_version(conn)
    for number in range(version + 1, SCHEMA_VERSION + 1):
        script = MIGRATIONS[number - 1]
        # executescript commits first; BEGIN IMMEDIATE..COMMIT makes each step atomic (the
        # script leaves the transaction open for the data step and the version)
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{script}")
            step = DATA_STEPS.get(number)
            if step is not None:
                step(conn)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION


def rollback_if_open(conn: sqlite3.Connection) -> None:
    """Roll back a transaction left open by an exception (a job that failed mid-chunk)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception);
    waiting for the write lock as `begin_immediate` says."""
    begin_immediate(conn)
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def set_busy_timeout(conn: sqlite3.Connection, ms: int) -> None:
    """How long this connection's writes wait for another writer (a job's: JOB_BUSY_TIMEOUT_MS)."""
    conn.execute(f"PRAGMA busy_timeout = {int(ms)}")


def begin_immediate(conn: sqlite3.Connection) -> None:
    """Take the write lock. A writer that waits more than NOTICE_AFTER_MS says so (a warning
    on the `betr.workspace` logger, naming who writes: the CLI prints it, a job logs it), and
    one that still has no lock after its connection's busy timeout raises WorkspaceBusy
    ("workspace busy: job N is writing", exit 2) instead of a bare "database is locked"."""
    timeout = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    if timeout > NOTICE_AFTER_MS:
        conn.execute(f"PRAGMA busy_timeout = {NOTICE_AFTER_MS}")
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            log.warning("waiting for the workspace: %s", writers(conn))
        finally:
            conn.execute(f"PRAGMA busy_timeout = {timeout}")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if not is_busy(exc):
            raise
        who = writers(conn)
        raise WorkspaceBusy(
            f"workspace busy: {who}; no write lock after {timeout / 1000:g} s",
            fix="run the command again when it has finished (betr jobs list shows the jobs)",
        ) from None


def writers(conn: sqlite3.Connection) -> str:
    """Who may hold the write lock, in words: the running jobs and the results imports in
    progress (read while the lock is held: WAL readers never wait)."""
    parts = []
    try:
        for r in conn.execute(
            "SELECT id, title FROM jobs WHERE state = 'running' AND heartbeat > ? ORDER BY id",
            (time.time() - 60,),
        ):
            parts.append(f"job {r[0]} ({r[1]}) is writing")
        for r in conn.execute(
            "SELECT id, pid FROM result_imports WHERE state != 'done' ORDER BY id"
        ):
            parts.append(f"results import {r[0]} (process {r[1]}) is writing")
    except sqlite3.Error:
        pass
    return "; ".join(parts[:3]) or "another betr process is writing"


def retry_busy(write: Callable[[], T], *, within_s: float = RETRY_BUSY_S) -> T:
    """Run `write` until it is not refused for a busy database, for up to `within_s` seconds
    (each attempt already waits BUSY_TIMEOUT_MS): for writes that must land, such as a job's
    final state, which would otherwise stay `running` after its worker gave up."""
    deadline = time.monotonic() + within_s
    pause = 0.05
    while True:
        try:
            return write()
        except (sqlite3.OperationalError, WorkspaceBusy) as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(2.0, pause * 2)


def is_busy(exc: BaseException) -> bool:
    """A write that timed out waiting for another writer ("database is locked", or the
    WorkspaceBusy that `begin_immediate` makes of it)."""
    return isinstance(exc, WorkspaceBusy) or (
        isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))
    )


_DAMAGED = (
    "file is not a database",
    "malformed",
    "disk image",
    "file is encrypted",
    "disk i/o error",
    "unsupported file format",
)


def is_damaged_database(exc: BaseException) -> bool:
    """A database file that SQLite cannot read as a betr workspace (truncated, random bytes,
    another program's database), as opposed to a bug or a busy database."""
    if not isinstance(exc, sqlite3.DatabaseError) or is_busy(exc):
        return False
    if type(exc) is sqlite3.DatabaseError:
        return True
    return any(marker in str(exc).lower() for marker in _DAMAGED)
