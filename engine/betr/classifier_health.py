"""Is a trained BETR classifier any use? The held-out numbers decide, and a useless one is
flagged wherever its run is shown.

fastText starts its output layer at zero, so before training every doc gets p(positive) = 0.5
exactly; a classifier that learned nothing keeps every p a hair from 0.5, and `select` then
keeps documents in an order that is noise. Three signs, on the held-out docs (which keep the
natural class ratio, METHODS 1.4); any one flags the classifier as degenerate:

- **p spread under 0.01.** The spread is the 90th minus the 10th percentile of held-out p. Under
  0.01, training moved 80% of the docs by less than a percentage point from where they all
  started: their order comes from updates too small to carry a signal (the real pool's run with
  the paper's settings: every p in 0.500008-0.500017, 102 distinct values for 2,693 docs).
- **One class for every held-out doc.** It was trained on balanced classes, so a classifier
  that learned anything puts some held-out docs on each side of p = 0.5; one that calls every
  doc positive (accuracy = the positive share, recall 1) or every doc negative did not. Runs
  trained before the spread was stored show this too.
- **AUC shown to be near 0.5.** The held-out ROC-AUC is the chance that a random positive doc
  gets a higher p than a random negative one; a random order scores 0.5 +- sd0,
  sd0 = sqrt((n_pos + n_neg + 1) / (12 n_pos n_neg)) (the Mann-Whitney U's null spread). Flagged
  when even AUC + 1.645 sd0 (its one-sided 95% upper bound) is under 0.55: the held-out docs
  show it orders at most 11 pairs in 20 the right way, where a coin does 10. A point estimate
  alone would cry wolf on small pools: with ~14 held-out positives (a 1,347-doc real pool) a
  classifier whose AUC is 0.7 on average scores under 0.55 on about 1 split in 10.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

AUC_NEAR_CHANCE = 0.55
AUC_Z = 1.645  # one-sided 95%
P_SPREAD_MIN = 0.01
P_SPREAD_QUANTILES = (0.10, 0.90)


def p_spread(prob: np.ndarray) -> float | None:
    """The 90th minus the 10th percentile of p(positive) (None for no docs)."""
    prob = np.asarray(prob, dtype=np.float64)
    if prob.size == 0:
        return None
    low, high = np.quantile(prob, P_SPREAD_QUANTILES)
    return float(high - low)


def chance_sd(n_pos: int, n_neg: int) -> float:
    """The standard deviation of a random order's AUC on n_pos positive and n_neg negative docs
    (the Mann-Whitney U's under the null, without ties, over n_pos n_neg)."""
    return math.sqrt((n_pos + n_neg + 1) / (12.0 * n_pos * n_neg))


def predicted_positive(clf: Mapping[str, Any]) -> int | None:
    """How many held-out docs the classifier called positive (p >= 0.5), from `evaluate`'s
    stored n, n_pos, precision and recall (precision None: none); None when unknown."""
    n, n_pos, precision, recall = (clf.get(k) for k in ("n", "n_pos", "precision", "recall"))
    if not n or not n_pos or recall is None:
        return None
    if precision is None:
        return 0
    return round(recall * n_pos / precision) if precision > 0 else None


def degenerate_reasons(clf: Mapping[str, Any] | None) -> list[str]:
    """Why a classifier's held-out metrics (`evaluate` + `p_spread`, as stored in a run's
    metrics["classifier"]) say it is useless; [] when they do not (or it is not trained)."""
    if not clf:
        return []
    reasons = []
    spread = clf.get("p_spread")
    if spread is not None and spread < P_SPREAD_MIN:
        reasons.append(f"p(positive) barely varies (p90 - p10 {spread:.2g} < {P_SPREAD_MIN:g})")
    n, called = clf.get("n"), predicted_positive(clf)
    if called is not None and called in (0, n):
        reasons.append(f"all {n} held-out docs get p {'≥' if called == n else '<'} 0.5")
    auc, n_pos = clf.get("roc_auc"), clf.get("n_pos")
    if auc is not None and n and n_pos and n > n_pos:
        sd0 = chance_sd(n_pos, n - n_pos)
        if auc + AUC_Z * sd0 < AUC_NEAR_CHANCE:
            reasons.append(
                f"held-out AUC {auc:.3f}, under {AUC_NEAR_CHANCE:g} even at its 95% upper bound "
                f"(+ {AUC_Z} x {sd0:.3f} on {n_pos} + {n - n_pos} docs)"
            )
    return reasons


def classifier_warnings(clf: Mapping[str, Any] | None, run_id: int) -> list[str]:
    """One warning naming what is wrong and what to do, or []."""
    reasons = degenerate_reasons(clf)
    if not reasons:
        return []
    return [
        f"degenerate classifier ({'; '.join(reasons)}): it learned next to nothing, so its "
        f"order of the pool is noise. Retrain with the defaults (betr train --run {run_id}), "
        "more --epoch or a higher --lr, or score a larger --sample"
    ]
