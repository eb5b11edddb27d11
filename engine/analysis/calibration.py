"""Calibration of multiple-choice predictions (METHODS 6; papers/data-mixture-impacts-summary.md:
post-hoc temperature scaling). Pure: numpy and scipy.

Per item, the choices' log-likelihoods l_c and the gold index: p_c = softmax(l_c / T) (T = 1
unless scaled); confidence = max_c p_c; correct = argmax_c l_c is gold (ties: the first maximum,
as numpy's argmax and engine.rbridge.mc). Items may have different numbers of choices.

- ECE: 15 equal-width bins over (0, 1] (bin b holds b/15 < confidence <= (b+1)/15);
  ECE = sum_b n_b / n * |acc_b - conf_b|; the reliability diagram rows are (bin, lo, hi, n, acc,
  conf) with acc and conf None for an empty bin.
- Temperature scaling: the items, in the natural order of their ids (engine.analysis.
  item_order: numeric ids numerically, "0", "1", "2", "10"; the caller orders them), are split
  in halves by `numpy.random.default_rng(seed).permutation(n)`: the items at the first n // 2
  positions of the permutation fit T, the rest evaluate. T minimises the mean NLL of the gold
  choice on the fit half (scipy.optimize.minimize_scalar, bounded to [0.05, 20]); ECE is
  reported before and after on the evaluation half. T is flagged at a bound
  (`temperature_at_bound` "lower" / "upper") when it lies within BOUND_TOL of it or the NLL at
  the bound is no higher than at T (the minimiser stops early where the NLL is flat to machine
  precision): the minimum is not inside the range, so T is the range's edge, not a fitted value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

N_BINS = 15
T_BOUNDS = (0.05, 20.0)
BOUND_TOL = 1e-3  # |T - bound| below this is "at the bound" (the minimiser's xatol is 1e-5)


@dataclass
class Items:
    """Log-likelihoods padded with -inf to the widest item (n x C), and the gold indices."""

    logliks: np.ndarray
    gold: np.ndarray

    def __len__(self) -> int:
        return len(self.gold)

    def subset(self, idx: np.ndarray) -> Items:
        return Items(self.logliks[idx], self.gold[idx])


def items(logliks: Sequence[Sequence[float]], gold: Sequence[int]) -> Items:
    """Validated items: at least one finite log-likelihood per item, gold a valid index."""
    if len(logliks) != len(gold):
        raise ValueError(f"{len(logliks)} items of log-likelihoods but {len(gold)} gold indices")
    width = max((len(x) for x in logliks), default=1)
    out = np.full((len(logliks), width), -np.inf)
    g = np.asarray(gold, dtype=np.int64).reshape(-1)
    for i, ll in enumerate(logliks):
        row = np.asarray(ll, dtype=np.float64)
        if row.ndim != 1 or not len(row) or not np.all(np.isfinite(row)):
            raise ValueError(f"item {i}: log-likelihoods must be finite numbers, got {list(ll)}")
        if not 0 <= g[i] < len(row):
            raise ValueError(f"item {i}: gold index {g[i]} is outside its {len(row)} choices")
        out[i, : len(row)] = row
    return Items(out, g)


def log_probs(it: Items, temperature: float = 1.0) -> np.ndarray:
    """log softmax(l / T) per item (-inf for padding)."""
    z = it.logliks / temperature
    return z - logsumexp(z, axis=1, keepdims=True)


def confidence_correct(it: Items, temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(max_c p_c, argmax is gold) per item; T > 0 does not change the argmax."""
    lp = log_probs(it, temperature)
    pred = np.argmax(it.logliks, axis=1)
    return np.exp(lp.max(axis=1)), pred == it.gold


def nll(it: Items, temperature: float = 1.0) -> float:
    """Mean negative log-probability of the gold choice."""
    lp = log_probs(it, temperature)
    return float(-np.mean(lp[np.arange(len(it)), it.gold]))


def reliability(
    conf: np.ndarray, correct: np.ndarray, n_bins: int = N_BINS
) -> tuple[float | None, list[dict[str, Any]]]:
    """(ECE, diagram rows) over equal-width bins of (0, 1]; ECE None for no items."""
    conf = np.asarray(conf, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    idx = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins)
    acc_sum = np.bincount(idx, weights=correct, minlength=n_bins)
    conf_sum = np.bincount(idx, weights=conf, minlength=n_bins)
    rows, total = [], 0.0
    for b in range(n_bins):
        n_b = int(counts[b])
        acc_b = acc_sum[b] / n_b if n_b else None
        conf_b = conf_sum[b] / n_b if n_b else None
        if n_b:
            total += n_b * abs(acc_b - conf_b)
        rows.append(
            {
                "bin": b,
                "lo": b / n_bins,
                "hi": (b + 1) / n_bins,
                "n": n_b,
                "acc": None if acc_b is None else float(acc_b),
                "conf": None if conf_b is None else float(conf_b),
            }
        )
    n = len(conf)
    return (float(total / n) if n else None), rows


def ece(it: Items, temperature: float = 1.0) -> tuple[float | None, list[dict[str, Any]]]:
    conf, correct = confidence_correct(it, temperature)
    return reliability(conf, correct)


def fit_temperature(it: Items, bounds: tuple[float, float] = T_BOUNDS) -> float:
    """T minimising the mean gold NLL (bounded scalar minimisation)."""
    if not len(it):
        raise ValueError("fitting a temperature needs at least one item")
    res = minimize_scalar(lambda t: nll(it, t), bounds=bounds, method="bounded")
    return float(res.x)


def split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(fit indices, evaluation indices): a seeded permutation cut in halves."""
    perm = np.random.default_rng(seed).permutation(n)
    return perm[: n // 2], perm[n // 2 :]


def at_bound(
    t: float, bounds: tuple[float, float] = T_BOUNDS, it: Items | None = None
) -> str | None:
    """ "lower" / "upper" when T sits at that bound of the search: within BOUND_TOL of it, or
    (given the fit items) the mean NLL at the bound is no higher than at T; else None."""
    for side, bound in (("lower", bounds[0]), ("upper", bounds[1])):
        if abs(t - bound) <= BOUND_TOL:
            return side
        if it is not None and len(it) and nll(it, bound) <= nll(it, t):
            return side
    return None


def _summary(it: Items, temperature: float) -> dict[str, Any]:
    e, bins = ece(it, temperature)
    conf, correct = confidence_correct(it, temperature)
    return {
        "ece": e,
        "bins": bins,
        "acc": float(correct.mean()) if len(it) else None,
        "confidence": float(conf.mean()) if len(it) else None,
        "nll": nll(it, temperature) if len(it) else None,
        "n": len(it),
    }


def calibrate(it: Items, seed: int = 0) -> dict[str, Any]:
    """ECE and diagram of all items (T = 1); T fitted on the seeded first half; ECE, diagram
    and NLL of the other half before (T = 1) and after scaling; the fit half's positions
    (`fit_idx`, ascending) and whether T sits at a bound. Under 2 items: no scaling
    (temperature None)."""
    whole = _summary(it, 1.0)
    out: dict[str, Any] = {
        "n_items": len(it),
        "seed": seed,
        "all": whole,
        "temperature": None,
        "temperature_at_bound": None,
        "bounds": list(T_BOUNDS),
        "n_fit": 0,
        "n_eval": 0,
        "fit_idx": [],
        "before": None,
        "after": None,
    }
    if len(it) < 2:
        return out
    fit_idx, eval_idx = split(len(it), seed)
    fit = it.subset(fit_idx)
    t = fit_temperature(fit)
    held = it.subset(eval_idx)
    out.update(
        temperature=t,
        temperature_at_bound=at_bound(t, T_BOUNDS, fit),
        fit_idx=sorted(int(i) for i in fit_idx),
        n_fit=len(fit_idx),
        n_eval=len(eval_idx),
        before=_summary(held, 1.0),
        after=_summary(held, t),
    )
    return out
