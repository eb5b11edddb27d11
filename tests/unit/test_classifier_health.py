"""A degenerate classifier is named (engine/betr/classifier_health.py): p(positive) that barely
varies, one class for every held-out doc, or a held-out AUC shown to be near 0.5; checked
against hand-computed values and sklearn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from engine.betr.classifier import evaluate
from engine.betr.classifier_health import (
    chance_sd,
    classifier_warnings,
    degenerate_reasons,
    p_spread,
    predicted_positive,
)

# the real 2,693-doc pool's run, trained with the paper's settings (before) and with the size
# rule (after): held-out 27 positive, 243 negative docs
BEFORE = {
    "n": 270,
    "n_pos": 27,
    "accuracy": 0.1,
    "precision": 0.1,
    "recall": 1.0,
    "roc_auc": 0.5144,
    "p_spread": 2.63e-06,
}
AFTER = {
    "n": 270,
    "n_pos": 27,
    "accuracy": 0.6148,
    "precision": 19 / 115,
    "recall": 19 / 27,
    "roc_auc": 0.7149,
    "p_spread": 0.8067,
}


def test_p_spread_is_the_90th_minus_the_10th_percentile():
    assert p_spread(np.arange(11) / 10) == pytest.approx(0.9 - 0.1)
    assert p_spread(np.full(5, 0.500013)) == 0.0
    assert p_spread(np.array([])) is None


def test_chance_sd_is_the_mann_whitney_null_spread():
    assert chance_sd(27, 243) == pytest.approx(math.sqrt(271 / (12 * 27 * 243)))
    assert chance_sd(27, 243) == pytest.approx(0.05867, abs=1e-5)


def test_docs_called_positive_come_back_from_precision_and_recall():
    assert predicted_positive(BEFORE) == 270  # 1.0 x 27 / 0.1
    assert predicted_positive(AFTER) == 115  # (19/27) x 27 / (19/115)
    assert predicted_positive({**AFTER, "precision": None, "recall": 0.0}) == 0
    assert predicted_positive({}) is None


def test_the_real_pools_paper_settings_classifier_is_degenerate():
    assert degenerate_reasons(BEFORE) == [
        "p(positive) barely varies (p90 - p10 2.6e-06 < 0.01)",
        "all 270 held-out docs get p ≥ 0.5",
    ]
    # its AUC alone cannot show it: 0.514 + 1.645 x 0.0587 = 0.611 is not under 0.55
    (warning,) = classifier_warnings(BEFORE, 7)
    assert warning.startswith("degenerate classifier (p(positive) barely varies")
    assert "Retrain with the defaults (betr train --run 7)" in warning


def test_a_run_trained_before_the_spread_was_stored_is_judged_on_the_rest():
    old = {k: v for k, v in BEFORE.items() if k != "p_spread"}
    assert degenerate_reasons(old) == ["all 270 held-out docs get p ≥ 0.5"]


@pytest.mark.parametrize(
    "clf",
    [
        AFTER,
        None,  # not trained
        {},
        # a noisy small held-out set: 0.529 + 1.645 x 0.079 = 0.66, not shown near chance
        {"n": 135, "n_pos": 15, "precision": 0.145, "recall": 0.6, "roc_auc": 0.529},
        {**AFTER, "p_spread": 0.01},  # at the line
    ],
)
def test_a_classifier_that_may_order_docs_is_not_flagged(clf):
    assert degenerate_reasons(clf) == [] and classifier_warnings(clf, 1) == []


def test_an_auc_shown_to_be_near_chance_is_flagged():
    # 20,000 positive and 180,000 negative held-out docs: sd0 = 0.00215
    big = {"n": 200_000, "n_pos": 20_000, "precision": 0.1, "recall": 0.5, "p_spread": 0.3}
    sd0 = chance_sd(20_000, 180_000)
    assert 0.546 + 1.645 * sd0 < 0.55 < 0.547 + 1.645 * sd0
    assert degenerate_reasons({**big, "roc_auc": 0.547}) == []
    assert degenerate_reasons({**big, "roc_auc": 0.546}) == [
        "held-out AUC 0.546, under 0.55 even at its 95% upper bound (+ 1.645 x 0.002 on "
        "20000 + 180000 docs)"
    ]


def test_p_values_a_hair_from_half_are_flagged_whatever_their_order():
    """What the paper's settings gave on 486 training docs: every p within 1e-5 of 0.5. Even
    a perfect order (AUC 1, by sklearn too) of such p is flagged by its spread."""
    rng = np.random.default_rng(0)
    label = (rng.random(270) < 0.1).astype(np.int64)
    prob = 0.499995 + 1e-5 * label + 1e-7 * rng.random(270)
    metrics = evaluate(prob, label, rng.random(270))
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(label, prob)) == 1.0
    metrics["p_spread"] = p_spread(prob)
    assert degenerate_reasons(metrics) == [
        f"p(positive) barely varies (p90 - p10 {metrics['p_spread']:.2g} < 0.01)"
    ]
