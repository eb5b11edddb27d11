"""Numbered schema migrations: `engine/store/migrations/NNNN_name.sql`, applied in order.

`PRAGMA user_version` holds the number of the last one applied. Add a file with the next
number; never edit one that has shipped.

A migration that must compute (recompute stored metrics from stored per-item values, say)
adds a data step beside its SQL: `NNNN_name.py` with the same stem, defining
`migrate(conn)`. It runs after the SQL, in the same transaction, and must be self-contained
(only the standard library and the connection): a migration is history, so it never imports
the code of today, which may compute something else tomorrow.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from importlib import resources
from importlib.resources.abc import Traversable

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.(sql|py)$")
DataStep = Callable[[sqlite3.Connection], None]


def _files() -> dict[str, dict[int, Traversable]]:
    out: dict[str, dict[int, Traversable]] = {"sql": {}, "py": {}}
    for entry in resources.files("engine.store").joinpath("migrations").iterdir():
        m = _NAME.match(entry.name)
        if m:
            out[m.group(2)][int(m.group(1))] = entry
    return out


def load_migrations() -> list[str]:
    """The migration scripts in order; their numbers must run 1, 2, 3, ... without a gap."""
    files = _files()["sql"]
    numbers = sorted(files)
    if numbers != list(range(1, len(files) + 1)):
        raise RuntimeError(f"migration numbers must be 1..{len(files)} in order, got {numbers}")
    return [files[n].read_text(encoding="utf-8") for n in numbers]


def load_data_steps() -> dict[int, DataStep]:
    """Migration number -> its data step's `migrate(conn)` (only the migrations that have one)."""
    files = _files()
    steps: dict[int, DataStep] = {}
    for number, entry in sorted(files["py"].items()):
        sql = files["sql"].get(number)
        stem = entry.name.removesuffix(".py")
        if sql is None or sql.name.removesuffix(".sql") != stem:
            raise RuntimeError(f"data step {entry.name} has no {stem}.sql beside it")
        namespace: dict[str, object] = {"__name__": f"engine.store.migrations.m{number:04d}"}
        source = entry.read_text(encoding="utf-8")
        exec(
            compile(source, str(entry), "exec"), namespace
        )  # the shipped data step, read like the SQL
        migrate = namespace.get("migrate")
        if not callable(migrate):
            raise RuntimeError(f"data step {entry.name} defines no migrate(conn)")
        steps[number] = migrate  # type: ignore[assignment]
    return steps


MIGRATIONS: list[str] = load_migrations()
DATA_STEPS: dict[int, DataStep] = load_data_steps()
SCHEMA_VERSION = len(MIGRATIONS)
