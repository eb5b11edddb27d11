"""Filter-rate arithmetic, thresholds, overlap and agreement on hand-made runs (exact values)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from engine.betr.runindex import RunIndex, keep_count
from engine.betr.tradeoff import (
    Budget,
    agreement,
    compute_law,
    compute_table,
    f_opt_percent,
    keep_curve,
    overlap,
    parse_amount,
    threshold_stats,
    tradeoff,
)
from engine.errors import UsageError


def run_index(
    doc_id,
    n_tokens,
    prob=None,
    *,
    score=None,
    bench=None,
    benchmarks=None,
    corpus_id=1,
    run_id=1,
) -> RunIndex:
    """A RunIndex in probability order, built by hand (score NaN = outside the sample)."""
    n = len(doc_id)
    prob = np.linspace(0.9, 0.1, n) if prob is None else np.asarray(prob, dtype=float)
    score = np.full(n, np.nan) if score is None else np.asarray(score, dtype=float)
    return RunIndex(
        run_id=run_id,
        name=f"run {run_id}",
        corpus_id=corpus_id,
        corpus=f"c{corpus_id}",
        applied=True,
        benchmarks=benchmarks or {},
        doc_id=np.asarray(doc_id, dtype=np.int64),
        prob=prob,
        n_tokens=np.asarray(n_tokens, dtype=np.int64),
        score=score,
        best_rank=np.zeros(n, dtype=np.int64),
        best_cosine=np.where(np.isnan(score), np.nan, 0.5),
        bench=np.full(n, -1) if bench is None else np.asarray(bench, dtype=np.int64),
        example=np.full(n, -1, dtype=np.int64),
        label=np.full(n, -1, dtype=np.int8),
        split=np.zeros(n, dtype=np.int8),
    )


# -- the compute law (METHODS 1) --------------------------------------------------------------
def test_f_opt_check_values():
    assert f_opt_percent(1e20) == pytest.approx(4.0, abs=1e-12)
    assert round(f_opt_percent(1e23), 1) == 22.5
    assert f_opt_percent(1e23) == pytest.approx(4e-5 * 10**5.75, rel=1e-12)


def test_f_opt_is_clamped_to_0_1_and_100_percent():
    assert f_opt_percent(1e10) == 0.1  # 4e-5 * 316 = 0.0126 %
    assert f_opt_percent(1e30) == 100.0  # 4e-5 * 3.16e7 = 1265 %


def test_budget_derives_the_missing_quantity():
    b = Budget.of(params=1e9, tokens=2e10)
    assert b.compute == 1.2e20
    assert Budget.of(compute=1.2e20, params=1e9).tokens == pytest.approx(2e10)
    assert Budget.of(compute=1.2e20, tokens=2e10).params == pytest.approx(1e9)
    assert Budget.of(compute=1e21).tokens is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"params": 0.0, "tokens": 1e9}, "model parameters N must be a positive number"),
        ({"params": 1e9, "tokens": -5.0}, "training tokens D must be a positive number"),
        ({"compute": 0.0}, "compute C must be a positive number"),
        ({"compute": float("nan")}, "compute C must be a positive number"),
        ({"params": 1e9}, "need both model parameters N and training tokens D"),
        ({"params": 1e9, "tokens": 1e9, "compute": 5e18}, "disagrees with 6 * N * D = 6e+18"),
    ],
)
def test_bad_budgets_are_refused(kwargs, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        Budget.of(**kwargs)


def test_parse_amount_suffixes():
    assert parse_amount("1B", "model parameters N") == 1e9
    assert parse_amount("300M", "model parameters N") == 3e8
    assert parse_amount("2.5T", "training tokens D") == 2.5e12
    assert parse_amount("1e21", "compute C") == 1e21
    with pytest.raises(UsageError, match="'abc' is not a number"):
        parse_amount("abc", "compute C")
    with pytest.raises(UsageError, match="must be a positive number"):
        parse_amount("-3", "compute C")


def test_epochs_and_starvation():
    # C = 1e20 -> F_opt 4 %; a pool of 1e6 tokens keeps 40 000 tokens
    law = compute_law(Budget.of(compute=1e20, tokens=1e6), pool_tokens=1_000_000)
    assert law.kept_tokens_at_f_opt == pytest.approx(40_000)
    assert law.epochs_at_f_opt == pytest.approx(25.0)
    assert law.starvation_at_f_opt is True
    law = compute_law(Budget.of(compute=1e20, tokens=1.6e5), pool_tokens=1_000_000)
    assert law.epochs_at_f_opt == pytest.approx(4.0)
    assert law.starvation_at_f_opt is False  # warn above 4 epochs, not at 4


def test_compute_table_spans_1e19_to_1e24():
    table = compute_table(pool_tokens=1000)
    assert [r.compute for r in table] == [1e19, 1e20, 1e21, 1e22, 1e23, 1e24]
    assert table[1].f_opt_percent == pytest.approx(4.0)
    assert table[1].kept_tokens == pytest.approx(40.0)
    assert table[5].f_opt_percent == pytest.approx(40.0)


# -- thresholds ----------------------------------------------------------------------------
CUM = np.cumsum([5, 1, 1, 10, 3])  # 5 6 7 17 20 tokens


@pytest.mark.parametrize(
    ("keep", "by", "kept"),
    [
        (0.25, "tokens", 1),  # 5 of 20 tokens: exactly the first doc
        (0.26, "tokens", 2),  # 5.2 tokens: the doc that crosses the target is kept
        (0.36, "tokens", 4),  # 7.2 tokens falls inside the 10-token doc: it is kept whole
        (0.85, "tokens", 4),  # 17 of 20
        (0.86, "tokens", 5),
        (1.0, "tokens", 5),
        (0.001, "tokens", 1),
        (0.4, "docs", 2),  # 2.0 docs exactly (no float round-up to 3)
        (0.5, "docs", 3),  # 2.5 -> 3
        (0.01, "docs", 1),
        (1.0, "docs", 5),
    ],
)
def test_keep_count(keep, by, kept):
    assert keep_count(CUM, keep, by) == kept


def test_keep_count_with_float_noise_hits_the_exact_boundary():
    cum = np.cumsum([1] * 10)
    assert keep_count(cum, 0.3, "tokens") == 3  # 0.3 * 10 = 3.0000000000000004
    assert keep_count(cum, 0.7, "docs") == 7  # 0.7 * 10 = 7.000000000000001


def test_threshold_stats_shares_and_over_targeting():
    # 6 docs; sample = rows 0, 1, 2, 4 with benchmarks a, a, b, a
    index = run_index(
        [10, 11, 12, 13, 14, 15],
        [10, 10, 10, 10, 10, 10],
        prob=[0.9, 0.8, 0.8, 0.5, 0.4, 0.1],
        score=[1.0, 0.5, 0.2, np.nan, 0.1, np.nan],
        bench=[1, 1, 2, -1, 1, -1],
        benchmarks={1: "a", 2: "b"},
    )
    s = threshold_stats(index, 0.5, "tokens")  # 30 of 60 tokens: rows 0..2
    assert (s.kept_docs, s.kept_tokens, s.threshold) == (3, 30, 0.8)
    assert s.sample_kept_docs == 3
    assert [(x.benchmark, x.docs, x.tokens) for x in s.benchmark_shares] == [
        ("a", 2, 20),
        ("b", 1, 10),
    ]
    assert s.benchmark_shares[0].share == pytest.approx(2 / 3)
    assert s.over_targeted == ["a"]
    s = threshold_stats(index, 1.0, "docs")
    assert s.sample_kept_docs == 4 and s.over_targeted == ["a"]  # 3 of 4
    s = threshold_stats(index, 0.1, "docs")  # row 0 only
    assert s.benchmark_shares[0].to_json() == {
        "benchmark": "a",
        "docs": 1,
        "tokens": 10,
        "share": 1.0,
    }


def test_tradeoff_defaults_keep_to_f_opt():
    index = run_index(list(range(100)), [1] * 100)
    out = tradeoff(index, None, "tokens", Budget.of(compute=1e20, tokens=8))
    assert out.keep_percent == pytest.approx(4.0)
    assert out.kept_docs == 4
    assert out.epochs_at_keep == pytest.approx(2.0)
    assert out.starvation_at_keep is False
    assert tradeoff(index, None, "tokens", Budget()).keep_percent == pytest.approx(10.0)
    with pytest.raises(UsageError, match="without --run, tradeoff needs a budget"):
        tradeoff(None, None, "tokens", Budget())


def test_keep_curve_by_docs_against_tokens():
    index = run_index([1, 2, 3, 4], [7, 1, 1, 1])
    x, y = keep_curve(index, points=5)  # 0, 25, 50, 75, 100 % of docs
    assert list(x) == [0, 25, 50, 75, 100]
    assert list(y) == [0, 70, 80, 90, 100]


# -- overlap -------------------------------------------------------------------------------
def test_overlap_and_jaccard_on_hand_made_sets():
    a = run_index([1, 2, 3, 4, 5], [1] * 5, run_id=1)
    b = run_index([3, 1, 9, 2, 4], [1] * 5, run_id=2)
    out = overlap(a, b, 0.4, "docs")  # A keeps {1, 2}, B keeps {3, 1}
    assert (out.kept_a, out.kept_b, out.overlap) == (2, 2, 1)
    assert out.jaccard == pytest.approx(1 / 3)
    assert out.only_a.tolist() == [2] and out.only_b.tolist() == [3]
    out = overlap(a, b, 0.8, "docs")  # {1,2,3,4} vs {3,1,9,2}: 3 shared of 5
    assert out.jaccard == pytest.approx(3 / 5)
    assert out.only_a.tolist() == [4] and out.only_b.tolist() == [9]
    assert overlap(a, a, 0.4, "docs").jaccard == 1.0


def test_overlap_refuses_runs_over_different_corpora():
    a = run_index([1, 2], [1, 1], corpus_id=1)
    b = run_index([1, 2], [1, 1], corpus_id=2, run_id=2)
    with pytest.raises(UsageError, match="over different corpora"):
        overlap(a, b, 0.5)


# -- agreement -----------------------------------------------------------------------------
def test_agreement_on_a_monotone_and_a_reversed_sample():
    n = 10
    same = run_index(list(range(n)), [1] * n, score=np.linspace(1.0, 0.1, n))
    out = agreement(same, 0.3, "docs", top=3)
    assert out.spearman == pytest.approx(1.0)
    assert (out.sample_kept, out.precision_at_keep) == (3, 1.0)
    rev = run_index(list(range(n)), [1] * n, score=np.linspace(0.1, 1.0, n))
    out = agreement(rev, 0.3, "docs", top=2)
    assert out.spearman == pytest.approx(-1.0)
    assert out.precision_at_keep == 0.0
    # the top probability doc has the lowest BETR score: the largest disagreement
    assert out.classifier_over_betr[0].doc_id == 0
    assert out.classifier_over_betr[0].prob_percentile == 100.0
    assert out.classifier_over_betr[0].score_percentile == 10.0
    assert out.betr_over_classifier[0].doc_id == n - 1


def test_agreement_needs_a_sample():
    index = run_index([1, 2], [1, 1], score=[1.0, np.nan])
    with pytest.raises(UsageError, match="has 1 scored docs; agreement needs at least 3"):
        agreement(index)


def test_spearman_matches_a_hand_computation():
    # prob order 0..4; scores ranked 2,1,4,3,5 (descending order of score by row)
    score = [0.8, 0.9, 0.6, 0.7, 0.5]
    out = agreement(run_index(list(range(5)), [1] * 5, score=score), 0.2, "docs")
    # rank(prob) = 5,4,3,2,1; rank(score) = 4,5,2,3,1 -> d^2 = 1+1+1+1+0 = 4
    assert out.spearman == pytest.approx(1 - 6 * 4 / (5 * (25 - 1)))
    assert math.isclose(out.precision_at_keep, 0.0)  # row 0 kept; BETR's top is row 1
