"""Bootstrap intervals over items, paired differences between models scored on the same items,
and a verdict in words read from the intervals. Pure (numpy and scipy, no workspace).

Every interval is `scipy.stats.bootstrap`'s, called with a seeded generator
(`rng=np.random.default_rng(seed)`), so the same data, seed, resamples, confidence and method
give the same interval as scipy called directly (the tests compare them exactly).

A benchmark number is `sum(values) / sum(weights)` over its items (`ItemValues`): weights None
for a mean over items (an accuracy, an NLL per trace), byte counts for a number summed over the
benchmark first (the rBridge release's bpb: sum NLL / (sum bytes * ln 2)). Resampling items and
recomputing that ratio keeps the metric's own definition inside the bootstrap.

Method (METHODS, default BCa, scipy's default): the bias-corrected and accelerated percentile
interval is second-order accurate, which matters for accuracies near 0 or 1 and for ratios,
whose bootstrap distributions are skewed; the plain percentile interval is first-order.

Paired difference: resampling the same items for both models (`paired=True`): the statistic
of a's values minus b's on each resample, so the items' shared difficulty cancels. For a mean
this is the bootstrap of the per-item differences (equal up to rounding; tested).

Degenerate inputs are said in `note`, never a silent NaN:
- fewer than 2 items: no interval (ci_low, ci_high None);
- every resample gives the same number (constant values, or the same difference on every
  item; BCa divides by zero there, or computes from rounding noise): a zero-width interval at
  that number;
- BCa undefined otherwise (a resample distribution with all its mass on one side): the
  percentile interval from the same resamples, and `method` says percentile;
- two models with the same values on every item: the difference is exactly 0, interval [0, 0].
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import UsageError
from engine.records import Record

# scipy.stats.bootstrap's methods (the registry `betr compare --method` chooses from)
METHODS: dict[str, str] = {
    "BCa": "bias-corrected and accelerated percentile interval (second order; scipy's default)",
    "percentile": "percentiles of the bootstrap distribution (first order)",
    "basic": "the 'reverse percentile' interval: 2 * estimate - percentiles",
}
DEFAULT_METHOD = "BCa"
DEFAULT_RESAMPLES = 9999  # scipy's default
DEFAULT_CONFIDENCE = 0.95
DEFAULT_SEED = 0
# resampled values held at once (items x resamples in one batch); above it scipy works in
# batches of resamples (the batch size is part of what makes an interval reproducible:
# `batch_size`)
MAX_BATCH_VALUES = 1 << 22
# resamples that differ by less than this (relative) are one number: rounding, not spread
FLAT = 1e-12
# below this many items a bootstrap interval under-covers (it is built from the items' own
# spread, which a small sample underestimates, so it is too narrow)
FEW_ITEMS = 20


@dataclass(frozen=True)
class ItemValues:
    """One model's per-item values on a benchmark: the items' ids, each item's value and, for
    a number summed over the benchmark first, its weight (the number is sum(values) /
    sum(weights); weights None: the mean of the values)."""

    ids: tuple[str, ...]
    values: np.ndarray
    weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.ids)
        if len(set(self.ids)) != n:
            seen: set[str] = set()
            for i in self.ids:
                if i in seen:
                    raise UsageError(f"item '{i}' appears twice", fix="give each item one value")
                seen.add(i)
        for what, arr in (("value", self.values), ("weight", self.weights)):
            if arr is None:
                continue
            if arr.shape != (n,):
                raise UsageError(f"{n} items but {arr.shape} {what}s")
            bad = np.flatnonzero(~np.isfinite(arr))
            if len(bad):
                raise UsageError(
                    f"item '{self.ids[bad[0]]}' has no finite {what} ({arr[bad[0]]})",
                    fix="leave out the items a model has no number for",
                )
        if self.weights is not None and n and not np.all(self.weights > 0):
            k = int(np.argmin(self.weights > 0))
            raise UsageError(
                f"item '{self.ids[k]}' has weight {self.weights[k]}: a weight must be positive",
                fix="leave out the items without a weight (e.g. a trace without mask bytes)",
            )

    @classmethod
    def of(
        cls,
        values: Sequence[float] | np.ndarray,
        ids: Sequence[Any] | None = None,
        weights: Sequence[float] | np.ndarray | None = None,
    ) -> ItemValues:
        """From plain sequences (ids default to the positions)."""
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        return cls(
            tuple(str(i) for i in (range(len(v)) if ids is None else ids)),
            v,
            None if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def number(self) -> float:
        """The benchmark's number: the mean, or sum(values) / sum(weights)."""
        if self.weights is None:
            return float(np.mean(self.values))
        return float(self.values.sum() / self.weights.sum())

    def data(self) -> tuple[np.ndarray, ...]:
        """The samples scipy resamples together (values, and weights when there are any)."""
        return (self.values,) if self.weights is None else (self.values, self.weights)


@dataclass(frozen=True)
class Interval(Record):
    """A number with its bootstrap interval: value (on all the items), ci_low..ci_high (None
    with fewer than 2 items), the items, resamples, confidence, the method that made the
    interval, the seed; distinguishable: the interval excludes 0; note: a degenerate case in
    words (module doc), else None."""

    value: float
    ci_low: float | None
    ci_high: float | None
    n: int
    n_resamples: int
    confidence: float
    method: str
    seed: int
    distinguishable: bool
    note: str | None = None


@dataclass(frozen=True)
class PairedDifference(Record):
    """a minus b on the same items, with its interval."""

    a: str
    b: str
    diff: Interval

    @property
    def distinguishable(self) -> bool:
        return self.diff.distinguishable


def batch_size(n: int, n_resamples: int) -> int | None:
    """The resamples scipy draws per batch for n items (None: all at once)."""
    if n * n_resamples <= MAX_BATCH_VALUES:
        return None
    return max(1, MAX_BATCH_VALUES // max(n, 1))


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def _ratio(v: np.ndarray, w: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.sum(v, axis=axis) / np.sum(w, axis=axis)


def statistic_of(sample: ItemValues) -> Callable[..., np.ndarray]:
    """The vectorised statistic scipy resamples for `sample` (over sample.data())."""
    return _mean if sample.weights is None else _ratio


def check_settings(n_resamples: int, confidence: float, method: str) -> None:
    if method not in METHODS:
        raise UsageError(
            f"unknown bootstrap method '{method}'", fix=f"use one of {', '.join(METHODS)}"
        )
    if not isinstance(n_resamples, int) or n_resamples < 1:
        raise UsageError(
            f"the number of resamples must be a positive whole number, got {n_resamples}",
            fix=f"e.g. {DEFAULT_RESAMPLES}",
        )
    if not 0 < confidence < 1:
        raise UsageError(
            f"the confidence level must lie strictly between 0 and 1, got {confidence}",
            fix="e.g. 0.95",
        )


def _interval(
    data: tuple[np.ndarray, ...],
    statistic: Callable[..., np.ndarray],
    value: float,
    n: int,
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
    method: str,
    paired: bool,
) -> Interval:
    from scipy.stats import bootstrap

    check_settings(n_resamples, confidence, method)

    def made(lo: float | None, hi: float | None, used: str, note: str | None) -> Interval:
        excludes = lo is not None and hi is not None and (lo > 0 or hi < 0)
        return Interval(value, lo, hi, n, n_resamples, confidence, used, seed, excludes, note)

    if n == 0:
        raise UsageError("no items to compute an interval over")
    if n < 2:
        return made(None, None, method, "1 item: a bootstrap interval needs at least 2")
    common: dict[str, Any] = {
        "confidence_level": confidence,
        "paired": paired,
        "vectorized": True,
        "batch": batch_size(n, n_resamples),
    }
    with warnings.catch_warnings():
        # BCa on a degenerate distribution warns (DegenerateDataWarning, a RuntimeWarning)
        # and gives NaN: handled below, in words
        warnings.simplefilter("ignore", RuntimeWarning)
        res = bootstrap(
            data,
            statistic,
            n_resamples=n_resamples,
            method=method,
            rng=np.random.default_rng(seed),
            **common,
        )
    dist = np.asarray(res.bootstrap_distribution)
    if np.ptp(dist) <= FLAT * max(1.0, abs(value)):
        return made(
            value,
            value,
            method,
            f"every resample gives {value:.6g}: what is resampled is the same on every item, "
            "so the interval has zero width",
        )
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if math.isfinite(lo) and math.isfinite(hi):
        return made(lo, hi, method, None)
    pct = bootstrap(
        data,
        statistic,
        n_resamples=0,
        method="percentile",
        bootstrap_result=res,
        rng=np.random.default_rng(seed),
        **common,
    )
    return made(
        float(pct.confidence_interval.low),
        float(pct.confidence_interval.high),
        "percentile",
        f"{method} is undefined on these values (its correction divides by zero); the "
        "percentile interval of the same resamples instead",
    )


def bootstrap_ci(
    sample: ItemValues | Sequence[float] | np.ndarray,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
    method: str = DEFAULT_METHOD,
) -> Interval:
    """The benchmark number (mean, or sum(values) / sum(weights)) and its bootstrap interval
    over items: scipy.stats.bootstrap(sample.data(), statistic, paired=True when weighted,
    rng=np.random.default_rng(seed), ...)."""
    s = sample if isinstance(sample, ItemValues) else ItemValues.of(sample)
    if len(s) == 0:
        raise UsageError("no items to compute an interval over")
    return _interval(
        s.data(),
        statistic_of(s),
        s.number(),
        len(s),
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        method=method,
        paired=s.weights is not None,
    )


def check_same_items(a: ItemValues, b: ItemValues, names: tuple[str, str] = ("a", "b")) -> None:
    """A UsageError naming the items one has and the other lacks (or a different order)."""
    if a.ids == b.ids:
        return
    sa, sb = set(a.ids), set(b.ids)
    only_a, only_b = sorted(sa - sb), sorted(sb - sa)
    if not only_a and not only_b:
        raise UsageError(
            f"{names[0]} and {names[1]} hold the same items in another order",
            fix="align them by item id first (engine.analysis.bootstrap.align)",
        )
    parts = [
        f"{len(only)} item(s) only {name} has (e.g. {', '.join(repr(i) for i in only[:3])})"
        for name, only in ((names[0], only_a), (names[1], only_b))
        if only
    ]
    raise UsageError(
        "a paired difference needs the same items on both sides: " + "; ".join(parts),
        fix="compare on the items both have (align), or score both on the same items",
    )


def align(samples: dict[str, ItemValues]) -> tuple[dict[str, ItemValues], dict[str, int]]:
    """Each sample restricted to the items every sample has, in the first sample's order,
    and how many items each one lost."""
    if not samples:
        return {}, {}
    common = set.intersection(*(set(s.ids) for s in samples.values()))
    order = [i for i in next(iter(samples.values())).ids if i in common]
    out, lost = {}, {}
    for name, s in samples.items():
        pos = {i: k for k, i in enumerate(s.ids)}
        idx = np.array([pos[i] for i in order], dtype=np.int64)
        out[name] = ItemValues(
            tuple(order), s.values[idx], None if s.weights is None else s.weights[idx]
        )
        lost[name] = len(s) - len(order)
    return out, lost


def _check_pair(a: ItemValues, b: ItemValues, names: tuple[str, str]) -> None:
    check_same_items(a, b, names)
    if (a.weights is None) != (b.weights is None):
        raise UsageError("a paired difference needs one metric: one side is weighted, one not")


def _identical(a: ItemValues, b: ItemValues) -> bool:
    same_weights = a.weights is None or (
        b.weights is not None and np.array_equal(a.weights, b.weights)
    )
    return same_weights and np.array_equal(a.values, b.values)


def _exactly_zero(
    names: tuple[str, str],
    sizes: list[int],
    n_resamples: int,
    confidence: float,
    seed: int,
    method: str,
) -> PairedDifference:
    """Two sides with the same value on every item: a difference of exactly 0 (no interval
    where some benchmark has a single item)."""
    check_settings(n_resamples, confidence, method)
    zero = None if min(sizes) < 2 else 0.0
    note = (
        f"{names[0]} and {names[1]} have the same value on every item: the difference is exactly 0"
    )
    exact = Interval(
        0.0, zero, zero, sum(sizes), n_resamples, confidence, method, seed, False, note
    )
    return PairedDifference(names[0], names[1], exact)


def paired_difference(
    a: ItemValues,
    b: ItemValues,
    *,
    names: tuple[str, str] = ("a", "b"),
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
    method: str = DEFAULT_METHOD,
) -> PairedDifference:
    """number(a) - number(b) on the same items (same ids, same order: else a UsageError naming
    the difference) and its paired bootstrap interval: scipy.stats.bootstrap((a's data, b's
    data), statistic(a) - statistic(b), paired=True, rng=np.random.default_rng(seed))."""
    _check_pair(a, b, names)
    if len(a) == 0:
        raise UsageError("no items to compare")
    if _identical(a, b):
        return _exactly_zero(names, [len(a)], n_resamples, confidence, seed, method)
    value = a.number() - b.number()
    stat_a, stat_b, k = statistic_of(a), statistic_of(b), len(a.data())

    def diff(*arrays: np.ndarray, axis: int = -1) -> np.ndarray:
        return stat_a(*arrays[:k], axis=axis) - stat_b(*arrays[k:], axis=axis)

    interval = _interval(
        (*a.data(), *b.data()),
        diff,
        value,
        len(a),
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        method=method,
        paired=True,
    )
    return PairedDifference(names[0], names[1], interval)


# -- a set of benchmarks: the mean of the benchmarks' numbers, resampled within each ----------
def _set_statistic(groups: list[list[ItemValues]]) -> Callable[..., np.ndarray]:
    """statistic(idx_1, ..., idx_k) over k benchmarks: for each side (a list of samples, one
    per benchmark), the mean over benchmarks of the benchmark's number on its resampled items
    (idx_j indexes benchmark j's items); with two sides, the first minus the second."""

    def number(sample: ItemValues, idx: np.ndarray) -> np.ndarray:
        if sample.weights is None:
            return np.mean(sample.values[idx], axis=-1)
        return np.sum(sample.values[idx], axis=-1) / np.sum(sample.weights[idx], axis=-1)

    def stat(*idx: np.ndarray, axis: int = -1) -> np.ndarray:
        means = [
            sum(number(s, i) for s, i in zip(side, idx, strict=True)) / len(idx) for side in groups
        ]
        return means[0] if len(means) == 1 else means[0] - means[1]

    return stat


def _check_set(samples: dict[str, ItemValues]) -> None:
    if not samples:
        raise UsageError("no benchmarks to average over")
    empty = [name for name, s in samples.items() if len(s) == 0]
    if empty:
        raise UsageError(f"benchmark '{empty[0]}' has no items", fix="leave it out of the set")


def _set_interval(
    groups: list[list[ItemValues]],
    names: list[str],
    value: float,
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
    method: str,
) -> Interval:
    sizes = [len(s) for s in groups[0]]
    small = [name for name, k in zip(names, sizes, strict=True) if k < 2]
    if small:
        check_settings(n_resamples, confidence, method)
        return Interval(
            value,
            None,
            None,
            sum(sizes),
            n_resamples,
            confidence,
            method,
            seed,
            False,
            f"benchmark '{small[0]}' has 1 item: a bootstrap interval needs at least 2 in each",
        )
    return _interval(
        tuple(np.arange(k) for k in sizes),
        _set_statistic(groups),
        value,
        sum(sizes),
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        method=method,
        paired=False,
    )


def set_mean_ci(
    samples: dict[str, ItemValues],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
    method: str = DEFAULT_METHOD,
) -> Interval:
    """The mean over a set of benchmarks (name -> its items) of each benchmark's number, with
    a stratified bootstrap interval: each benchmark's items resampled within it
    (scipy.stats.bootstrap over one sample of item positions per benchmark, paired=False), so
    every resample keeps each benchmark's size and a large benchmark does not crowd out a
    small one. n: the items of all of them."""
    _check_set(samples)
    value = float(np.mean([s.number() for s in samples.values()]))
    return _set_interval(
        [list(samples.values())],
        list(samples),
        value,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        method=method,
    )


def set_paired_difference(
    a: dict[str, ItemValues],
    b: dict[str, ItemValues],
    *,
    names: tuple[str, str] = ("a", "b"),
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
    method: str = DEFAULT_METHOD,
) -> PairedDifference:
    """set_mean(a) - set_mean(b) over the same benchmarks and, in each, the same items (a
    UsageError naming what differs), with the stratified paired interval: the same resampled
    items of each benchmark on both sides."""
    if list(a) != list(b):
        raise UsageError(
            f"{names[0]} and {names[1]} cover other benchmarks: {', '.join(a)} vs {', '.join(b)}",
            fix="compare them over the same benchmarks, in the same order",
        )
    _check_set(a)
    for bench in a:
        _check_pair(a[bench], b[bench], (f"{names[0]} on {bench}", f"{names[1]} on {bench}"))
    if all(_identical(a[k], b[k]) for k in a):
        sizes = [len(s) for s in a.values()]
        return _exactly_zero(names, sizes, n_resamples, confidence, seed, method)
    value = float(np.mean([s.number() for s in a.values()])) - float(
        np.mean([s.number() for s in b.values()])
    )
    iv = _set_interval(
        [list(a.values()), list(b.values())],
        list(a),
        value,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        method=method,
    )
    return PairedDifference(names[0], names[1], iv)


def decimals(lo: float, hi: float) -> int:
    """Decimals that show an interval's width to about two significant digits (4 for a
    zero width, at most 8)."""
    width = abs(hi - lo)
    if not width or not math.isfinite(width):
        return 4
    return min(8, max(0, 2 - math.floor(math.log10(width))))


def verdict(pair: PairedDifference, metric: str, *, lower_is_better: bool) -> str:
    """One sentence from the interval alone (never from the point estimate): which of a and b
    is better by how much, with the interval of that margin, when the interval excludes 0;
    else that no difference is distinguishable from noise. Numbers are shown to the
    interval's precision (`decimals`)."""
    d, a, b = pair.diff, pair.a, pair.b
    items = f"{d.n} item{'s' if d.n != 1 else ''}"
    level = f"{d.confidence * 100:g}% CI"
    if d.ci_low is None or d.ci_high is None:
        return f"{a} vs {b}: no verdict ({d.note or 'no interval'})"
    if d.ci_low == d.ci_high == d.value == 0.0 and d.note:
        return f"{a} vs {b}: no difference ({d.note}, {items})"
    k = decimals(d.ci_low, d.ci_high)
    if not d.distinguishable:
        return (
            f"{a} vs {b}: no difference distinguishable from noise at this scale "
            f"({metric} {a} - {b} = {d.value:+.{k}f}, {level} {d.ci_low:+.{k}f}.."
            f"{d.ci_high:+.{k}f}, {items})"
        )
    a_lower = d.ci_high < 0
    a_wins = a_lower if lower_is_better else not a_lower
    winner, loser = (a, b) if a_wins else (b, a)
    # the margin winner over loser, as a positive number, with its interval
    lo, hi = (-d.ci_high, -d.ci_low) if a_lower else (d.ci_low, d.ci_high)
    return (
        f"{winner} beats {loser} by {abs(d.value):.{k}f} {metric} "
        f"({level} {lo:.{k}f}..{hi:.{k}f}, {items}; "
        f"{'lower' if lower_is_better else 'higher'} is better)"
    )
