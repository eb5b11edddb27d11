"""Bootstrap intervals, paired differences and verdicts (engine.analysis.bootstrap): the
intervals are scipy.stats.bootstrap's, called directly here with the same seed; identical
proxies differ by exactly 0; a planted difference is found and named the right way round for
both metric directions; degenerate inputs say so instead of giving NaN."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from engine.analysis.bootstrap import (
    ItemValues,
    align,
    bootstrap_ci,
    decimals,
    paired_difference,
    set_mean_ci,
    set_paired_difference,
    verdict,
)
from engine.errors import UsageError

RNG = np.random.default_rng(20261206)
A = RNG.normal(4.8, 0.6, 60)  # per-item bpb of a proxy, fixed for every test
NOISE = RNG.normal(0.0, 0.05, 60)
W = RNG.integers(20, 400, 60).astype(np.float64)  # per-item bytes


def scipy_ci(data, statistic, *, seed=0, method="BCa", paired=False, n=9999, confidence=0.95):
    """scipy.stats.bootstrap called directly (its RuntimeWarnings on degenerate data hushed:
    the tests that reach them expect its DegenerateDataWarning)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "invalid value", RuntimeWarning)
        res = stats.bootstrap(
            data,
            statistic,
            n_resamples=n,
            confidence_level=confidence,
            method=method,
            paired=paired,
            vectorized=True,
            rng=np.random.default_rng(seed),
        )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@pytest.mark.parametrize("method", ["BCa", "percentile", "basic"])
@pytest.mark.parametrize("seed", [0, 7])
def test_a_mean_interval_is_scipys_exactly(method, seed):
    iv = bootstrap_ci(A, seed=seed, method=method, n_resamples=2000, confidence=0.9)
    assert (iv.ci_low, iv.ci_high) == scipy_ci(
        (A,), np.mean, seed=seed, method=method, n=2000, confidence=0.9
    )
    assert iv.value == float(np.mean(A)) and iv.n == 60 and iv.method == method
    assert (iv.n_resamples, iv.confidence, iv.seed, iv.note) == (2000, 0.9, seed, None)


def test_a_ratio_interval_resamples_items_with_their_weights():
    """bpb summed over the benchmark: sum(bits) / sum(bytes), items resampled as pairs."""
    bits = A * W
    iv = bootstrap_ci(ItemValues.of(bits, weights=W), seed=3)
    assert iv.value == pytest.approx(bits.sum() / W.sum(), rel=1e-15)
    assert (iv.ci_low, iv.ci_high) == scipy_ci(
        (bits, W), lambda v, w, axis: v.sum(axis) / w.sum(axis), seed=3, paired=True
    )
    assert iv.ci_low < iv.value < iv.ci_high


def test_a_paired_difference_is_scipys_and_the_bootstrap_of_the_differences():
    b = A + 0.3 + NOISE
    pd = paired_difference(ItemValues.of(A), ItemValues.of(b), names=("top", "random"), seed=5)
    d = pd.diff
    assert (d.ci_low, d.ci_high) == scipy_ci(
        (A, b), lambda x, y, axis: x.mean(axis) - y.mean(axis), seed=5, paired=True
    )
    # the same resampled items: equal to the bootstrap of the per-item differences
    assert (d.ci_low, d.ci_high) == pytest.approx(scipy_ci((A - b,), np.mean, seed=5), abs=1e-12)
    assert d.value == pytest.approx(-0.3 - NOISE.mean(), abs=1e-12)


def test_identical_proxies_differ_by_exactly_zero():
    pd = paired_difference(ItemValues.of(A), ItemValues.of(A.copy()), names=("x", "y"))
    d = pd.diff
    assert (d.value, d.ci_low, d.ci_high) == (0.0, 0.0, 0.0)
    assert d.ci_low <= 0 <= d.ci_high and not pd.distinguishable
    assert "exactly 0" in d.note
    assert verdict(pd, "bpb", lower_is_better=True).startswith("x vs y: no difference (")
    w = ItemValues.of(A * W, weights=W)
    assert paired_difference(w, w).diff.ci_high == 0.0


@pytest.mark.parametrize("lower_is_better", [True, False])
def test_a_planted_difference_is_found_and_named_the_right_way_round(lower_is_better):
    b = A + 0.3 + NOISE  # b is higher on every item by about 0.3
    pd = paired_difference(ItemValues.of(A), ItemValues.of(b), names=("top", "random"))
    d = pd.diff
    assert pd.distinguishable and d.ci_high < -0.25 and d.ci_low > -0.35
    text = verdict(pd, "bpb" if lower_is_better else "acc", lower_is_better=lower_is_better)
    k = decimals(d.ci_low, d.ci_high)  # the width ~0.02: 4 decimals
    assert k == 4
    margin = f"(95% CI {-d.ci_high:.4f}..{-d.ci_low:.4f}, 60 items;"
    if lower_is_better:  # lower bpb: top is better
        assert text.startswith(f"top beats random by {abs(d.value):.4f} bpb {margin}")
    else:  # higher acc: random is better
        assert text.startswith(f"random beats top by {abs(d.value):.4f} acc {margin}")
    # the other order of the pair: the same winner
    flipped = paired_difference(ItemValues.of(b), ItemValues.of(A), names=("random", "top"))
    again = verdict(flipped, "m", lower_is_better=lower_is_better)
    assert again.startswith("top beats" if lower_is_better else "random beats")


def test_the_verdict_follows_the_interval_not_the_point_estimate():
    """A difference of mean -0.05 whose interval straddles 0 is no verdict; noise alone."""
    rng = np.random.default_rng(1)
    b = A + rng.normal(0.05, 1.0, 60)
    pd = paired_difference(ItemValues.of(A), ItemValues.of(b), names=("top", "random"))
    assert pd.diff.value != 0 and pd.diff.ci_low < 0 < pd.diff.ci_high
    assert not pd.distinguishable
    assert "no difference distinguishable from noise at this scale" in verdict(
        pd, "bpb", lower_is_better=True
    )


def test_numbers_are_shown_to_the_intervals_precision():
    assert [decimals(lo, hi) for lo, hi in ((0.007, 0.185), (-0.0197, 0.0013), (-3, 40))] == [
        3,
        4,
        1,
    ]
    assert decimals(0.0, 0.0) == 4 and decimals(0, 1e-12) == 8


def test_one_item_gives_no_interval_and_says_so():
    iv = bootstrap_ci([4.2])
    assert (iv.value, iv.ci_low, iv.ci_high, iv.n) == (4.2, None, None, 1)
    assert "at least 2" in iv.note and not iv.distinguishable
    pd = paired_difference(ItemValues.of([1.0], ["q1"]), ItemValues.of([2.0], ["q1"]))
    assert pd.diff.ci_low is None and "no verdict" in verdict(pd, "bpb", lower_is_better=True)


def test_constant_values_give_a_zero_width_interval_not_nan():
    iv = bootstrap_ci([0.25] * 12)  # BCa alone gives NaN here (scipy warns)
    assert (iv.value, iv.ci_low, iv.ci_high) == (0.25, 0.25, 0.25)
    assert "the same on every item" in iv.note and iv.method == "BCa"
    with pytest.warns(stats.DegenerateDataWarning):  # what is handled: scipy's BCa is NaN
        assert np.isnan(scipy_ci((np.full(12, 0.25),), np.mean)[0])


def test_the_same_difference_on_every_item_gives_a_zero_width_interval_said():
    """b = a + 0.3 item by item: every resample's difference is -0.3 up to rounding (which
    BCa would turn into a spurious interval)."""
    pd = paired_difference(ItemValues.of(A), ItemValues.of(A + 0.3), names=("top", "random"))
    d = pd.diff
    assert d.ci_low == d.ci_high == d.value == pytest.approx(-0.3, abs=1e-12)
    assert "the same on every item" in d.note and pd.distinguishable
    assert verdict(pd, "bpb", lower_is_better=True).startswith("top beats random by 0.3000 bpb")
    w = bootstrap_ci(ItemValues.of(np.full(9, 0.6), weights=np.full(9, 2.0)))
    assert (w.value, w.ci_low, w.ci_high) == (0.3, 0.3, 0.3) and w.note


def test_bca_undefined_falls_back_to_percentile_of_the_same_resamples():
    """Three resamples of one 1 among five 0s (seed 9) all lie above the estimate: BCa's
    bias correction is infinite (scipy gives NaN); the percentile interval of the same
    resamples is given instead, and said."""
    x = np.array([0.0, 0, 0, 0, 0, 1])
    with pytest.warns(stats.DegenerateDataWarning):
        assert np.isnan(scipy_ci((x,), np.mean, seed=9, n=3)[0])
    iv = bootstrap_ci(x, n_resamples=3, seed=9)
    assert iv.method == "percentile" and "percentile interval of the same resamples" in iv.note
    assert (iv.ci_low, iv.ci_high) == scipy_ci((x,), np.mean, seed=9, n=3, method="percentile")


def test_mismatched_items_are_refused_by_name():
    a = ItemValues.of([1.0, 2.0, 3.0], ["q1", "q2", "q3"])
    b = ItemValues.of([1.0, 2.0, 3.0], ["q1", "q2", "q4"])
    with pytest.raises(UsageError, match=r"1 item\(s\) only top has \(e.g. 'q3'\).*'q4'"):
        paired_difference(a, b, names=("top", "random"))
    with pytest.raises(UsageError, match="another order"):
        paired_difference(a, ItemValues.of([3.0, 2.0, 1.0], ["q3", "q2", "q1"]))
    aligned, lost = align({"top": a, "random": b})
    assert aligned["top"].ids == aligned["random"].ids == ("q1", "q2")
    assert lost == {"top": 1, "random": 1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": [1.0, float("nan")], "ids": ["a", "b"]}, "item 'b' has no finite value"),
        ({"values": [1.0, 2.0], "ids": ["a", "a"]}, "item 'a' appears twice"),
        ({"values": [1.0, 2.0], "weights": [3.0, 0.0]}, "item '1' has weight 0.0"),
    ],
)
def test_bad_item_values_are_refused(kwargs, message):
    with pytest.raises(UsageError, match=message):
        ItemValues.of(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "bca"}, "unknown bootstrap method 'bca'"),
        ({"n_resamples": 0}, "positive whole number"),
        ({"confidence": 95}, "strictly between 0 and 1"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(UsageError, match=message):
        bootstrap_ci(A, **kwargs)
    with pytest.raises(UsageError):
        bootstrap_ci([])


def test_the_traces_shares_make_the_benchmarks_rbridge_numbers():
    """What betr compare resamples adds up to what the score stores (scoring.aggregate)."""
    from engine.rbridge.scoring import TRACE_METRICS, aggregate, trace_share

    rows = [
        {"score": 2.0, "nll_rphi": 3.0, "nll_gold": None, "bpb": 1.5, "n_tokens": 9, "flags": []},
        {"score": None, "nll_rphi": 2.0, "nll_gold": 1.0, "bpb": 1.0, "n_tokens": 4, "flags": []},
        {"score": 4.0, "nll_rphi": 1.0, "nll_gold": 3.0, "bpb": 2.0, "n_tokens": 7, "flags": []},
    ]
    rows[0] |= {"mask_nll": 7.0, "mask_bytes": 10, "mask_words": 2}
    rows[2] |= {"mask_nll": 3.0, "mask_bytes": 30, "mask_words": 5}
    stored = aggregate(rows)
    for metric in TRACE_METRICS:
        shares = [s for r in rows if (s := trace_share(r, metric)) is not None]
        v = [s[0] for s in shares]
        w = None if shares[0][1] is None else [s[1] for s in shares]
        assert ItemValues.of(v, weights=w).number() == pytest.approx(stored[metric], rel=1e-15)
    assert stored["bpb"] == pytest.approx(10.0 / (40 * np.log(2)))


def test_betr_compares_defaults_are_the_engines():
    from engine.analysis import bootstrap
    from engine.cli.compare import compare_cmd

    defaults = {p.name: p.default for p in compare_cmd.params}
    assert (
        defaults["resamples"],
        defaults["seed"],
        defaults["confidence"],
        defaults["method"],
    ) == (
        bootstrap.DEFAULT_RESAMPLES,
        bootstrap.DEFAULT_SEED,
        bootstrap.DEFAULT_CONFIDENCE,
        bootstrap.DEFAULT_METHOD,
    )


# -- a set of benchmarks: the mean of their numbers, items resampled within each --------------
B2 = RNG.normal(3.0, 2.0, 14)  # a second, smaller benchmark


def test_a_set_mean_is_scipys_stratified_bootstrap_exactly():
    """One sample per benchmark, paired=False: scipy resamples each within itself."""
    iv = set_mean_ci({"gsm8k": ItemValues.of(A), "math": ItemValues.of(B2)}, seed=4)
    assert iv.value == pytest.approx((A.mean() + B2.mean()) / 2, rel=1e-15)
    assert (iv.ci_low, iv.ci_high) == scipy_ci(
        (A, B2), lambda x, y, axis: (x.mean(axis) + y.mean(axis)) / 2, seed=4
    )
    assert iv.n == 74 and iv.note is None


def test_a_set_paired_difference_resamples_the_same_items_on_both_sides():
    a = {"gsm8k": ItemValues.of(A), "math": ItemValues.of(B2)}
    shifted = {"gsm8k": ItemValues.of(A + 0.3 + NOISE), "math": ItemValues.of(B2 + 0.3)}
    pd = set_paired_difference(a, shifted, names=("top", "random"), seed=4)
    d = pd.diff
    # the paired difference of the set is the set mean of the per-item differences
    diffs = (A - (A + 0.3 + NOISE), B2 - (B2 + 0.3))
    want = scipy_ci(diffs, lambda x, y, axis: (x.mean(axis) + y.mean(axis)) / 2, seed=4)
    assert (d.ci_low, d.ci_high) == pytest.approx(want, abs=1e-12)
    assert pd.distinguishable and d.value == pytest.approx(-0.3 - NOISE.mean() / 2, abs=1e-12)
    assert verdict(pd, "bpb", lower_is_better=True).startswith("top beats random by 0.3")
    same = set_paired_difference(a, dict(a), names=("x", "y")).diff
    assert (same.value, same.ci_low, same.ci_high) == (0.0, 0.0, 0.0) and "exactly 0" in same.note


def test_a_weighted_set_keeps_each_items_value_and_weight_together():
    bits, w = A * W, W
    a = {
        "gsm8k": ItemValues.of(bits, weights=w),
        "math": ItemValues.of(B2 * 10, weights=[10.0] * 14),
    }
    iv = set_mean_ci(a, seed=2, n_resamples=999)
    assert iv.value == pytest.approx((bits.sum() / w.sum() + B2.mean()) / 2, rel=1e-14)
    idx = (np.arange(60), np.arange(14))

    def stat(i, j, axis=-1):
        return (bits[i].sum(-1) / w[i].sum(-1) + (B2 * 10)[j].sum(-1) / (10.0 * j.shape[-1])) / 2

    assert (iv.ci_low, iv.ci_high) == pytest.approx(scipy_ci(idx, stat, seed=2, n=999), abs=1e-12)


def test_a_set_refuses_other_benchmarks_or_items_and_says_when_one_has_a_single_item():
    a = {"gsm8k": ItemValues.of(A), "math": ItemValues.of(B2)}
    with pytest.raises(UsageError, match="cover other benchmarks: gsm8k, math vs gsm8k"):
        set_paired_difference(a, {"gsm8k": ItemValues.of(A)})
    other = {"gsm8k": ItemValues.of(A), "math": ItemValues.of(B2, [f"m{i}" for i in range(14)])}
    with pytest.raises(UsageError, match="only b on math has"):
        set_paired_difference(a, other)
    iv = set_mean_ci({"gsm8k": ItemValues.of(A), "tiny": ItemValues.of([1.0])})
    assert iv.ci_low is None and "benchmark 'tiny' has 1 item" in iv.note
    with pytest.raises(UsageError, match="no benchmarks"):
        set_mean_ci({})
