"""The natural order of item ids (pure): how per-item results are listed and how the
calibration split draws its halves, so neither depends on how rows were stored.

Ids are compared by their runs of digits as numbers and the rest as text: "0", "1", "2",
"10", "100" (not "0", "1", "10", "100", "2" as text sorts them); "Mercury_7", "Mercury_12";
"q2" before "q10". Ids equal under that key (e.g. "7" and "07") fall back to the text, so the
order is total and the same for any insertion order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_RUNS = re.compile(r"(\d+)")


def natural_key(item: object) -> tuple[tuple[tuple[int, int | str], ...], str]:
    text = str(item)
    parts = tuple(
        (0, int(part)) if i % 2 else (1, part)
        for i, part in enumerate(_RUNS.split(text))
        if part or i == 0
    )
    return parts, text


def natural_order(items: Sequence[object]) -> list[int]:
    """Indices of `items` in natural order of their ids."""
    return sorted(range(len(items)), key=lambda i: natural_key(items[i]))
