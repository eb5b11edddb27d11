"""Ranking datasets (METHODS 3): decision accuracy == (1 + tau) / 2 on tie-free data, the tie
rules on hand cases, Kendall's n/a rules, and zero-shot transfer with its MAE."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau

from engine.analysis.ranking import decision_accuracy, kendall, rank, transfer

distinct = st.lists(
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    min_size=2,
    max_size=40,
    unique=True,
)


@settings(max_examples=200, deadline=None)
@given(distinct, st.randoms(use_true_random=False))
def test_decision_accuracy_is_one_plus_tau_over_two_without_ties(target, rnd):
    prediction = list(target)
    rnd.shuffle(prediction)
    prediction = [p * 0.5 + rnd.random() * 1e-3 for p in prediction]
    if len(set(prediction)) < len(prediction):
        return
    d = decision_accuracy(prediction, target)
    tau = kendalltau(prediction, target).statistic
    n = len(target)
    assert d.pairs == n * (n - 1) // 2 and d.target_ties == 0 and d.prediction_ties == 0
    assert d.accuracy == pytest.approx((1 + tau) / 2, abs=1e-12)
    if n >= 3:
        assert kendall(prediction, target).tau == pytest.approx(tau, abs=1e-12)


def test_tie_rules_by_hand():
    # pairs (i<j): (0,1) target tie -> excluded; (0,2) pred tie -> wrong; (0,3) right;
    # (1,2) pred tie, target 2<3 -> wrong; (1,3) right; (2,3) pred 1>0 but target 3<4 -> wrong
    prediction = [1.0, 1.0, 1.0, 0.0]
    target = [2.0, 2.0, 3.0, 4.0]
    d = decision_accuracy(prediction, target)
    assert (d.pairs, d.correct, d.target_ties, d.prediction_ties) == (5, 0, 1, 2)
    assert d.accuracy == 0.0
    d = decision_accuracy([1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 3.0, 4.0])
    assert (d.pairs, d.correct, d.target_ties, d.accuracy) == (5, 5, 1, 1.0)
    d = decision_accuracy([1.0, 1.0], [5.0, 5.0])
    assert (d.pairs, d.target_ties, d.accuracy) == (0, 1, None)


def test_kendall_na_rules():
    assert kendall([1.0, 2.0], [1.0, 2.0]).tau is None
    assert kendall([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]).tau is None
    t = kendall([1.0, 2.0, 2.0, 4.0], [1.0, 3.0, 2.0, 4.0])
    ref = kendalltau([1.0, 2.0, 2.0, 4.0], [1.0, 3.0, 2.0, 4.0], variant="b")
    assert (t.tau, t.p_value, t.n) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue), 4)


def test_rank_orders_by_prediction_and_handles_a_loss_proxy():
    r = rank(["a", "b", "c"], [3.0, 1.0, 2.0], [0.3, 0.5, 0.4], sign=-1)
    assert [row.dataset for row in r.rows] == ["b", "c", "a"]
    assert [row.rank_target for row in r.rows] == [1, 2, 3]
    assert r.decision.accuracy == 1.0 and r.tau.tau == pytest.approx(1.0)
    r = rank(["a", "b", "c"], [3.0, 1.0, 2.0], [0.3, 0.5, None])
    assert r.n_known == 2 and r.decision.pairs == 1 and r.decision.accuracy == 0.0
    assert r.tau.tau is None and [row.rank_target for row in r.rows] == [2, None, 1]
    # a target that is a loss: the lowest is best (rank 1)
    r = rank(["a", "b"], [2.0, 1.0], [2.1, 0.9], higher_is_better=False)
    assert [row.dataset for row in r.rows] == ["b", "a"] and r.decision.accuracy == 1.0


def test_transfer_predicts_ranks_and_scores_mae():
    r = transfer(
        "linear", {"a": 0.1, "b": 2.0}, ["x", "y", "z"], [0.1, 0.3, 0.2], [0.35, 0.65, None]
    )
    assert [row.dataset for row in r.rows] == ["y", "z", "x"]
    assert [row.prediction for row in r.rows] == pytest.approx([0.7, 0.5, 0.3])
    assert r.mae == pytest.approx(0.05) and r.n_known == 2
    assert r.decision.accuracy == 1.0
    r = transfer("exponential", {"a": 1.0, "b": 1.0, "c": 0.0}, ["x", "y"], [0.0, 1.0])
    assert [row.prediction for row in r.rows] == pytest.approx([np.e, 1.0])
    assert r.mae is None and r.decision.pairs == 0
