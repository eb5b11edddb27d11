"""One record read from a document or benchmark file, and the wording of errors about records.

Invariants: a `Record` always names its source (as shown in messages) and a 1-based position,
the line where it starts (JSONL/CSV, unit "line") or its row (Parquet/Arrow, unit "row"), so
every error about it can say where it is. `data` is the record's fields as one dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SKIP_FIX = "fix or delete that line, or pass --skip-bad to skip bad records"
SKIP_ROW_FIX = "fix or delete that row, or pass --skip-bad to skip bad records"


@dataclass(frozen=True, slots=True)
class Record:
    source: str  # the Source's name, as shown in messages
    line: int  # 1-based line (JSONL/CSV: where the record starts) or row (Parquet/Arrow)
    unit: str  # "line" or "row"
    data: dict


def json_kind(value: Any) -> str:
    """What a value is, in the words of an error message ("a number", "a list", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bytes | bytearray | memoryview):
        return "binary data (bytes)"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__
