"""Errors a user can cause. Each message names what was wrong, where, and the fix.

Internal bugs are ordinary exceptions and keep their tracebacks (in the job log);
everything a user can trigger by input or usage is a `BetrError` subclass, which the CLI
prints without a traceback (exit code 2) and the TUI shows in a notification.
"""

from __future__ import annotations

from pathlib import Path


class BetrError(Exception):
    """Base class of every error the user can cause and fix."""

    exit_code = 2

    def __init__(self, message: str, *, fix: str | None = None):
        self.message = message
        self.fix = fix
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message}\n  fix: {self.fix}"
        return self.message


class InputError(BetrError):
    """A bad input record or file: names the file, the line (or row) and the field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        fix: str | None = None,
        unit: str = "line",
    ):
        self.file = file
        self.line = line
        self.field = field
        self.unit = unit
        where = ""
        if file is not None:
            where = str(file)
            if line is not None:
                where += f":{line}" if unit == "line" else f" {unit} {line}"
            where += ": "
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}{what}{message}", fix=fix)
        self.bare_message = message


class UsageError(BetrError):
    """A command used wrongly: unknown option value, missing argument, name clash."""


class WorkspaceError(BetrError):
    """The workspace cannot be opened or is from an incompatible version."""


class WorkspaceBusy(WorkspaceError):
    """Another process held the workspace's write lock for longer than a writer waits."""


class NotFoundError(BetrError):
    """A named corpus, benchmark, run, job or document does not exist."""


class JobCancelled(Exception):
    """Raised inside a worker when the job was asked to stop."""


# -- a workspace database that cannot be read (see engine.store.db.is_damaged_database) ----
DAMAGED_FIX = (
    "the file is damaged or is not a betr workspace: restore it from a backup, or create a "
    "new workspace with `betr init PATH`"
)


def damaged_database_message(exc: BaseException, path: Path | None = None) -> str:
    where = f" {path}" if path else ""
    return f"cannot open the workspace database{where}: {exc}\n  fix: {DAMAGED_FIX}"
