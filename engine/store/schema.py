"""Numbered schema migrations: `engine/store/migrations/NNNN_name.sql`, applied in order.

`PRAGMA user_version` holds the number of the last one applied. Add a file with the next
number; never edit one that has shipped.
"""

from __future__ import annotations

import re
from importlib import resources

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def load_migrations() -> list[str]:
    """The migration scripts in order; their numbers must run 1, 2, 3, ... without a gap."""
    files = sorted(
        (int(m.group(1)), entry)
        for entry in resources.files("engine.store").joinpath("migrations").iterdir()
        if (m := _NAME.match(entry.name))
    )
    numbers = [n for n, _ in files]
    if numbers != list(range(1, len(files) + 1)):
        raise RuntimeError(f"migration numbers must be 1..{len(files)} in order, got {numbers}")
    return [entry.read_text(encoding="utf-8") for _, entry in files]


MIGRATIONS: list[str] = load_migrations()
SCHEMA_VERSION = len(MIGRATIONS)
