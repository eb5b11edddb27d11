"""Keeping the top X% of a corpus by p(positive): the keep rate and the selection it makes.

By tokens, the doc that crosses the target is kept (the kept share is the smallest prefix
holding at least X% of the tokens); ties in probability are ordered by doc id. The cut itself
is a binary search on the cumulative tokens (`engine.api.select`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import UsageError


@dataclass
class Selection:
    run_id: int
    keep: float  # fraction in (0, 1]
    by: str
    position: int  # docs kept: prob_order positions 1..position
    kept_tokens: int
    total_tokens: int
    total_docs: int
    threshold: float  # p(positive) of the last kept doc

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["kept_docs"] = self.position
        d["kept_token_share"] = self.kept_tokens / self.total_tokens if self.total_tokens else 0
        return d


def parse_keep(text: str | float) -> float:
    """ "10%" or "10" -> 0.10 (percent); must lie in (0, 100]."""
    raw = str(text).strip()
    try:
        value = float(raw.rstrip("%"))
    except ValueError:
        raise UsageError(f"--keep '{text}' is not a percentage", fix="e.g. --keep 10%") from None
    if not 0.0 < value <= 100.0:
        raise UsageError(
            f"--keep must be above 0% and at most 100%, got {raw}", fix="e.g. --keep 10%"
        )
    return value / 100.0
