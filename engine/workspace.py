"""A workspace: one directory holding `betr.sqlite` plus `models/`, `exports/` and `logs/`.

Everything is created readable by the owner only (directories 0700, files 0600): a workspace
holds unpublished data choices and possibly licensed text.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from engine.errors import WorkspaceError, damaged_database_message
from engine.store import db
from engine.store.db import is_busy, is_damaged_database

__all__ = [
    "Workspace",
    "damaged_database_message",
    "is_busy",
    "is_damaged_database",
    "open_private",
    "owner_only",
    "resolve_path",
    "write_private",
]

DEFAULT_DIRNAME = "betr-workspace"
SUBDIRS = ("models", "exports", "logs")


def resolve_path(path: str | os.PathLike | None) -> Path:
    """`path`, else `$BETR_WORKSPACE`, else `./betr-workspace`."""
    if path:
        return Path(path).expanduser()
    env = os.environ.get("BETR_WORKSPACE")
    if env:
        return Path(env).expanduser()
    return Path.cwd() / DEFAULT_DIRNAME


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def db_path(self) -> Path:
        return self.root / db.DB_FILENAME

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def job_log_path(self, job_id: int) -> Path:
        return self.logs_dir / f"job-{job_id}.log"

    @classmethod
    def init(cls, path: str | os.PathLike | None = None) -> Workspace:
        """Create (or re-open) a workspace directory; idempotent."""
        root = resolve_path(path).resolve()
        if root.exists() and not root.is_dir():
            raise WorkspaceError(
                f"{root} exists and is not a directory", fix="choose another workspace path"
            )
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name in SUBDIRS:
            (root / name).mkdir(mode=0o700, exist_ok=True)
        for directory in (root, *(root / name for name in SUBDIRS)):
            owner_only(directory)
        ws = cls(root)
        ws.connect().close()
        for suffix in ("", "-wal", "-shm"):
            owner_only(ws.db_path.with_name(ws.db_path.name + suffix), 0o600)
        return ws

    @classmethod
    def open(cls, path: str | os.PathLike | None = None) -> Workspace:
        """Open an existing workspace; a clear error if there is none at `path`."""
        root = resolve_path(path).resolve()
        if not (root / db.DB_FILENAME).is_file():
            raise WorkspaceError(
                f"no betr workspace at {root} (no {db.DB_FILENAME} there)",
                fix=f"create one with `betr init {root}`, or pass -w/--workspace "
                "(or set BETR_WORKSPACE) to an existing workspace",
            )
        for name in SUBDIRS:
            (root / name).mkdir(mode=0o700, exist_ok=True)
        ws = cls(root)
        # migrate (and check the version) once on open, so readers never see an old schema
        ws.connect().close()
        return ws

    def connect(self, *, readonly: bool = False) -> sqlite3.Connection:
        return db.connect(self.db_path, readonly=readonly)

    def exists(self) -> bool:
        return self.db_path.is_file()


def owner_only(path: Path, mode: int = 0o700) -> None:
    """chmod what we own to `mode` when others may read it (an existing directory or database
    may have been made 0755 or 0644)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        os.chmod(path, mode)


def open_private(path: Path, mode: str = "w", **kwargs: Any) -> IO[Any]:
    """Open `path` for writing, owner-only (0600): created so, or made so when it existed
    (exports hold the user's documents; the README promises owner-only files)."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` owner-only (0600), atomically (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
