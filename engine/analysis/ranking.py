"""Ranking datasets by a prediction (METHODS 3, DataDecide): decision accuracy over all dataset
pairs, Kendall tau-b, and zero-shot transfer of a fit from one dataset to the others.

Decision accuracy: over all pairs i<j, the fraction whose order by prediction matches the order
by target. A tie in the prediction counts as wrong; pairs tied in the target are excluded (and
counted). With no ties it equals (1 + tau) / 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau

from engine.analysis.fits import predict

MIN_N = 3  # the n/a rule: fewer points (or a constant vector) give no tau


@dataclass(frozen=True)
class Decision:
    accuracy: float | None  # None when no pair is left
    pairs: int  # pairs compared (target ties excluded)
    correct: int
    target_ties: int  # pairs excluded for a tie in the target
    prediction_ties: int  # compared pairs tied in the prediction (counted wrong)


@dataclass(frozen=True)
class Tau:
    tau: float | None  # None under the n/a rules
    p_value: float | None
    n: int


@dataclass(frozen=True)
class RankRow:
    dataset: str
    prediction: float
    target: float | None
    rank_prediction: int  # 1 = highest prediction
    rank_target: int | None


@dataclass(frozen=True)
class Ranking:
    rows: list[RankRow]  # by prediction, highest first
    decision: Decision
    tau: Tau
    mae: float | None  # mean |prediction - target| over the rows with a target
    n_known: int


def decision_accuracy(prediction: Sequence[float], target: Sequence[float]) -> Decision:
    p = np.asarray(prediction, dtype=float)
    t = np.asarray(target, dtype=float)
    if p.shape != t.shape:
        raise ValueError("prediction and target differ in length")
    i, j = np.triu_indices(len(p), k=1)
    dt = np.sign(t[i] - t[j])
    dp = np.sign(p[i] - p[j])
    kept = dt != 0
    pairs = int(np.sum(kept))
    correct = int(np.sum((dp == dt) & kept))
    return Decision(
        accuracy=correct / pairs if pairs else None,
        pairs=pairs,
        correct=correct,
        target_ties=int(np.sum(~kept)),
        prediction_ties=int(np.sum((dp == 0) & kept)),
    )


def kendall(prediction: Sequence[float], target: Sequence[float]) -> Tau:
    """Kendall tau-b and its p-value (scipy); None when n < 3 or either vector is constant."""
    p = np.asarray(prediction, dtype=float)
    t = np.asarray(target, dtype=float)
    n = len(p)
    if n < MIN_N or np.ptp(p) == 0 or np.ptp(t) == 0:
        return Tau(None, None, n)
    res = kendalltau(p, t, variant="b")
    tau, pv = float(res.statistic), float(res.pvalue)
    return Tau(None if math.isnan(tau) else tau, None if math.isnan(pv) else pv, n)


def _ranks_desc(values: np.ndarray) -> np.ndarray:
    """1 = highest; ties share the better rank (competition ranking)."""
    return np.array([1 + int(np.sum(values > v)) for v in values], dtype=int)


def rank(
    datasets: Sequence[str],
    prediction: Sequence[float],
    target: Sequence[float | None] | None = None,
    *,
    sign: int = 1,
    higher_is_better: bool = True,
) -> Ranking:
    """Datasets ordered by prediction (rank 1 = best), with decision accuracy, tau and MAE over
    those whose target is known (None/NaN targets are ranked but not scored).

    sign=-1 when the prediction runs against the target (a proxy loss ranking a target
    accuracy: lower proxy = better); higher_is_better=False when the target is a loss. MAE is
    only meaningful when the prediction is in the target's units (a transferred fit)."""
    pred = np.asarray(prediction, dtype=float)
    names = list(datasets)
    tgt = np.full(len(pred), np.nan)
    if target is not None:
        tgt = np.array([np.nan if v is None else float(v) for v in target], dtype=float)
    known = ~np.isnan(tgt)
    flip = 1.0 if higher_is_better else -1.0
    s_pred, s_tgt = flip * sign * pred, flip * tgt
    rp = _ranks_desc(s_pred)
    rt = np.zeros(len(pred), dtype=int)
    rt[known] = _ranks_desc(s_tgt[known])
    rows = []
    for k in sorted(range(len(names)), key=lambda k: (rp[k], names[k])):
        t, r = (float(tgt[k]), int(rt[k])) if known[k] else (None, None)
        rows.append(RankRow(names[k], float(pred[k]), t, int(rp[k]), r))
    n_known = int(np.sum(known))
    return Ranking(
        rows=rows,
        decision=decision_accuracy(s_pred[known], s_tgt[known]),
        tau=kendall(s_pred[known], s_tgt[known]),
        mae=float(np.mean(np.abs(pred[known] - tgt[known]))) if n_known else None,
        n_known=n_known,
    )


def transfer(
    function: str,
    params: dict[str, float],
    datasets: Sequence[str],
    proxy: Sequence[float],
    actual: Sequence[float | None] | None = None,
    *,
    higher_is_better: bool = True,
) -> Ranking:
    """Zero-shot transfer: f (fitted on another dataset) applied to these datasets' proxy
    scores; the predicted target, the ranking, and MAE against the actual values when known."""
    pred = predict(function, params, np.asarray(proxy, dtype=float))
    return rank(datasets, pred, actual, higher_is_better=higher_is_better)
