"""Keeping the top X% of a corpus by p(positive): the keep rate and the selection it makes.

By tokens, the doc that crosses the target is kept (the kept share is the smallest prefix
holding at least X% of the tokens); ties in probability are ordered by doc id. The cut itself
is a binary search on the cumulative tokens (`engine.api.select`).

SELECTION_ORDERS is the registry of the orders a proxy's training selection may take the same
token share in (name -> SelectionOrder): the top docs (what `betr select` keeps), the bottom
ones, or a seeded random draw (the controls of the demo experiment).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import UsageError

KEEP_BY = ("tokens", "docs")  # what a keep rate is a share of: the pool's tokens, or its docs


def check_keep_by(by: str) -> None:
    if by not in KEEP_BY:
        raise UsageError(f"--by must be {' or '.join(KEEP_BY)}, got '{by}'")


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


@dataclass(frozen=True)
class SelectionOrder:
    """`order(doc_ids, n_tokens, seed)`: a run's docs (given best first by p(positive)) in the
    order a selection takes them; the selection is the shortest prefix holding X% of the
    tokens. Both arrays come back reordered alike."""

    summary: str
    order: Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def best_first(ids: np.ndarray, n_tokens: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return ids, n_tokens


def worst_first(ids: np.ndarray, n_tokens: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return ids[::-1], n_tokens[::-1]


def seeded_random(
    ids: np.ndarray, n_tokens: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(len(ids))
    return ids[perm], n_tokens[perm]


# the demo experiment trains a proxy on each, in this order (engine.jobs.kinds.experiment)
SELECTION_ORDERS: dict[str, SelectionOrder] = {
    "top": SelectionOrder("the highest p(positive) first: what betr select keeps", best_first),
    "random": SelectionOrder("a seeded random draw of the same token share", seeded_random),
    "bottom": SelectionOrder("the lowest p(positive) first", worst_first),
}
