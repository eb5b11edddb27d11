"""Multiple-choice metrics from the choices' log-likelihoods (METHODS 5). Pure (numpy only).

Per item, with l_c the log-likelihood of choice c (the sum over its continuation tokens) and
n_c its length in characters (of the continuation as scored, the leading space included):
- acc: argmax_c l_c is the gold index (ties: the first maximum, as numpy's argmax);
- acc_norm: argmax_c l_c / n_c is the gold index (same tie rule);
- confidence: softmax over the l_c, the probability of the selected choice (argmax_c l_c).
Each is averaged over items. `p_gold` (the softmax probability of the gold choice) is kept per
item for calibration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

METRICS = ("acc", "acc_norm", "confidence")


@dataclass
class McResult:
    acc: float | None
    acc_norm: float | None
    confidence: float | None
    n_items: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def metrics(self) -> dict[str, float | None]:
        return {m: getattr(self, m) for m in METRICS}


def softmax(logliks: np.ndarray) -> np.ndarray:
    z = logliks - np.max(logliks)
    e = np.exp(z)
    return e / e.sum()


def item_row(logliks: Sequence[float], gold: int, n_chars: Sequence[int]) -> dict[str, Any]:
    """One item's predictions: pred, pred_norm, correct, correct_norm, confidence, p_gold."""
    ll = np.asarray(logliks, dtype=np.float64)
    chars = np.asarray(n_chars, dtype=np.float64)
    if ll.ndim != 1 or len(ll) == 0:
        raise ValueError("an item needs at least one choice log-likelihood")
    if chars.shape != ll.shape:
        raise ValueError(f"{len(ll)} log-likelihoods but {len(chars)} choice lengths")
    if not np.all(np.isfinite(ll)):
        raise ValueError(f"log-likelihoods must be finite, got {ll.tolist()}")
    if np.any(chars <= 0):
        raise ValueError(f"choice lengths must be positive, got {chars.tolist()}")
    if not 0 <= gold < len(ll):
        raise ValueError(f"gold index {gold} is outside the {len(ll)} choices")
    pred = int(np.argmax(ll))
    pred_norm = int(np.argmax(ll / chars))
    p = softmax(ll)
    return {
        "pred": pred,
        "pred_norm": pred_norm,
        "correct": pred == gold,
        "correct_norm": pred_norm == gold,
        "confidence": float(p[pred]),
        "p_gold": float(p[gold]),
    }


def mc_metrics(
    logliks: Sequence[Sequence[float]],
    gold: Sequence[int],
    n_chars: Sequence[Sequence[int]],
) -> McResult:
    """Means of acc, acc_norm and confidence over the items (None for no items), and the
    per-item rows (`item_row`)."""
    if not len(logliks) == len(gold) == len(n_chars):
        raise ValueError("logliks, gold and n_chars need one entry per item")
    rows = [item_row(ll, int(g), n) for ll, g, n in zip(logliks, gold, n_chars, strict=True)]
    if not rows:
        return McResult(None, None, None, 0, [])
    return McResult(
        acc=float(np.mean([r["correct"] for r in rows])),
        acc_norm=float(np.mean([r["correct_norm"] for r in rows])),
        confidence=float(np.mean([r["confidence"] for r in rows])),
        n_items=len(rows),
        rows=rows,
    )
