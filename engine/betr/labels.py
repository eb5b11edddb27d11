"""Classifier labels from BETR scores (METHODS 1.4).

The top ceil(positive_frac * n) docs of the BETR order are positive, the rest negative. A
seeded uniform random ceil(valid_frac * n) docs are held out for validation first (so the
validation set keeps the natural class ratio); the remaining training docs are balanced by
seeded downsampling of the larger class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.errors import UsageError

MIN_SAMPLE = 20
SIZE_FIX = "score a larger sample (--sample) or raise --positive-frac"


@dataclass(frozen=True)
class Labels:
    """label: (n_docs,) int8, 1 = positive; split: (n_docs,) str "train"/"valid"/"unused"
    ("unused": the downsampled surplus of the larger class, in neither index);
    train_idx / valid_idx: sorted int64 doc indices (train_idx after balancing)."""

    label: np.ndarray
    split: np.ndarray
    train_idx: np.ndarray
    valid_idx: np.ndarray

    @property
    def n_positive(self) -> int:
        return int(self.label.sum())

    def counts(self) -> dict[str, int]:
        """Docs per (split, class): what the run summary shows."""
        train = self.label[self.train_idx]
        valid = self.label[self.valid_idx]
        return {
            "train_pos": int(train.sum()),
            "train_neg": int(len(train) - train.sum()),
            "valid_pos": int(valid.sum()),
            "valid_neg": int(len(valid) - valid.sum()),
        }


def _count(frac: float, n: int) -> int:
    """ceil(frac * n), robust to float noise (0.1 * 30 -> 3, not 4)."""
    return math.ceil(frac * n - 1e-9)


def make_labels(
    scores_order: np.ndarray,
    n_docs: int,
    positive_frac: float = 0.10,
    valid_frac: float = 0.10,
    seed: int = 0,
) -> Labels:
    """Labels for `n_docs` docs given `scores_order`, their indices best first (a permutation
    of range(n_docs), e.g. `order_by_score(rank_scores(...))`)."""
    order = np.asarray(scores_order, dtype=np.int64)
    if order.shape != (n_docs,) or not np.array_equal(np.sort(order), np.arange(n_docs)):
        raise ValueError(f"scores_order must be a permutation of range({n_docs})")
    if not 0.0 < positive_frac < 1.0:
        raise UsageError(
            f"positive fraction {positive_frac} is outside (0, 1)",
            fix="pass --positive-frac between 0 and 1 (default 0.10)",
        )
    if not 0.0 < valid_frac < 1.0:
        raise UsageError(
            f"validation fraction {valid_frac} is outside (0, 1)",
            fix="pass a validation fraction between 0 and 1 (default 0.10)",
        )
    if n_docs < MIN_SAMPLE:
        raise UsageError(
            f"the scored sample has {n_docs} docs; training a classifier needs at least "
            f"{MIN_SAMPLE}",
            fix=SIZE_FIX,
        )
    label = np.zeros(n_docs, dtype=np.int8)
    label[order[: _count(positive_frac, n_docs)]] = 1

    rng = np.random.default_rng(seed)
    valid_idx = np.sort(rng.permutation(n_docs)[: _count(valid_frac, n_docs)])
    in_valid = np.zeros(n_docs, dtype=bool)
    in_valid[valid_idx] = True
    pool = np.flatnonzero(~in_valid)
    pos, neg = pool[label[pool] == 1], pool[label[pool] == 0]
    if len(pos) == 0 or len(neg) == 0:
        empty = "positive" if len(pos) == 0 else "negative"
        raise UsageError(
            f"no {empty} docs are left for training: {n_docs} docs, "
            f"{int(label.sum())} positive (positive fraction {positive_frac}), "
            f"{len(valid_idx)} held out for validation",
            fix=SIZE_FIX,
        )
    if label[valid_idx].sum() == 0:
        raise UsageError(
            f"the validation split ({len(valid_idx)} of {n_docs} docs) holds no positive doc "
            f"({int(label.sum())} positive in all)",
            fix=SIZE_FIX,
        )
    n_keep = min(len(pos), len(neg))
    pos = np.sort(rng.choice(pos, n_keep, replace=False)) if len(pos) > n_keep else pos
    neg = np.sort(rng.choice(neg, n_keep, replace=False)) if len(neg) > n_keep else neg
    train_idx = np.sort(np.concatenate([pos, neg])).astype(np.int64)
    # a doc dropped by balancing was never trained on: "unused", not "train" (schema v2)
    split = np.where(in_valid, "valid", "unused")
    split[train_idx] = "train"
    return Labels(
        label=label,
        split=split,
        train_idx=train_idx,
        valid_idx=valid_idx.astype(np.int64),
    )
