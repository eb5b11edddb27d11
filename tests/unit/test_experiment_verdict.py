"""The demo experiment's verdict (engine.analysis.experiment_verdict) on crafted per-item values:
its JSON shape, numbers equal to engine.analysis.bootstrap called directly, and sentences that
follow the intervals, not the point estimates."""

from __future__ import annotations

import numpy as np

from engine.analysis.bootstrap import ItemValues, set_mean_ci, set_paired_difference
from engine.analysis.experiment_verdict import (
    ExperimentVerdict,
    build_verdict,
    verdict_lines,
)

RESAMPLES = 999
SIZE = 1000


def _items(values, weights=None) -> ItemValues:
    return ItemValues.of(values, [f"i{k}" for k in range(len(values))], weights)


def _crafted() -> dict:
    """top has a lower target bpb than random by a planted 0.5 per item (every item, plus
    noise: resolved); on the control set top is lower than random on average, but by far less
    than the items' spread (not resolved)."""
    rng = np.random.default_rng(3)
    n = 40
    bytes_ = rng.integers(20, 80, size=n).astype(float)
    base = rng.normal(3.0, 0.3, size=n)
    noise = rng.normal(0.0, 1.0, size=n)
    items = {}
    for sel, shift in (("top", -0.5), ("random", 0.0), ("bottom", 0.3)):
        per_byte = base + shift + rng.normal(0, 0.02, size=n)
        items[(sel, SIZE, "target", "bpb")] = {"t1": _items(per_byte * bytes_, bytes_)}
    # control: top's mean is 0.05 below random's, the items differ by N(0, 1) noise
    items[("top", SIZE, "control", "acc")] = {"c1": _items(noise - 0.05)}
    items[("random", SIZE, "control", "acc")] = {"c1": _items(np.zeros(n))}
    return items


def _verdict() -> ExperimentVerdict:
    return build_verdict(
        _crafted(),
        keep=0.1,
        sets={"target": ["t1"], "control": ["c1"]},
        holdout={"fraction": 0.2, "seed": 0, "examples": {"t1": 40}},
        n_resamples=RESAMPLES,
    )


def test_the_json_has_values_and_paired_rows_with_their_intervals():
    v = _verdict()
    out = v.to_json()
    assert set(out) >= {"values", "paired", "verdicts", "headline", "sets", "holdout", "metrics"}
    assert out["n_resamples"] == RESAMPLES and out["confidence"] == 0.95
    keys = {(r["selection"], r["size"], r["set"], r["metric"]) for r in out["values"]}
    assert keys == set(_crafted())
    for row in out["values"]:
        assert {"value", "ci_low", "ci_high", "n_items", "benchmarks"} <= set(row)
    pairs = {(p["a"], p["b"], p["set"], p["metric"], p["size"]) for p in out["paired"]}
    assert pairs == {
        ("top", "random", "target", "bpb", SIZE),
        ("top", "bottom", "target", "bpb", SIZE),
        ("top", "random", "control", "acc", SIZE),
    }
    for p in out["paired"]:
        assert {"diff", "ci_low", "ci_high"} <= set(p)
    assert ExperimentVerdict.from_json(out) == v


def test_the_numbers_are_the_stratified_bootstrap_s():
    v, items = _verdict(), _crafted()
    top = items[("top", SIZE, "target", "bpb")]
    rnd = items[("random", SIZE, "target", "bpb")]
    iv = set_mean_ci(top, n_resamples=RESAMPLES)
    row = next(r for r in v.values if (r.selection, r.set, r.metric) == ("top", "target", "bpb"))
    assert (row.value, row.ci_low, row.ci_high, row.n_items) == (
        iv.value,
        iv.ci_low,
        iv.ci_high,
        40,
    )
    pd = set_paired_difference(top, rnd, n_resamples=RESAMPLES).diff
    pair = next(p for p in v.paired if (p.b, p.set) == ("random", "target"))
    assert (pair.diff, pair.ci_low, pair.ci_high) == (pd.value, pd.ci_low, pd.ci_high)
    # the bpb is sum(bits) / sum(bytes): top's is about 0.5 below random's
    assert -0.55 < pair.diff < -0.45 and pair.ci_high < 0


def test_the_verdict_follows_the_intervals_not_the_point_estimates():
    v = _verdict()
    control = next(p for p in v.paired if p.set == "control")
    # the point estimate says top is worse (lower accuracy) ...
    assert control.diff < 0
    # ... but its interval contains 0: no difference is claimed
    assert control.ci_low < 0 < control.ci_high and not control.distinguishable
    acc_line = next(s for s in v.verdicts if ", acc:" in s)
    assert "no difference distinguishable from noise at this scale" in acc_line
    assert "beats" not in acc_line
    bpb_random = next(s for s in v.verdicts if "bpb" in s and "random" in s)
    pair = next(p for p in v.paired if (p.b, p.set) == ("random", "target"))
    # the margin top over random, with the interval of the paired difference (negated: lower
    # is better), to its precision
    margin = f"by {-pair.diff:.4f} bpb (95% CI {-pair.ci_high:.4f}..{-pair.ci_low:.4f}, 40 items"
    assert f"BETR top 10% beats random 10% {margin}" in bpb_random
    assert "on the targets (held-out examples)" in bpb_random
    assert v.headline == next(s for s in v.verdicts if "bpb" in s)
    lines = verdict_lines(v)
    assert any("held out of the BETR run: 20%" in line for line in lines)
    assert "verdict:" in lines


def test_no_values_give_no_verdict():
    v = build_verdict({}, keep=0.1, sets={"target": [], "control": []}, notes=["why"])
    assert v.values == [] and v.paired == [] and v.verdicts == []
    assert v.headline.startswith("no verdict") and v.notes == ["why"]
