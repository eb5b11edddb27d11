"""Hand labels on documents (good, bad, skip) compared with a run's classifier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.betr.runindex import RunIndex

LABELS = ("good", "bad", "skip")


def label_agreement(
    labels: Sequence[tuple[int, str]], index: RunIndex, cut: int | None
) -> dict[str, Any]:
    """Hand labels ((doc_id, label) pairs) of the run's docs vs the classifier at the threshold
    (`cut` kept rows): agreement = (good and kept + bad and dropped) / (good + bad)."""
    out: dict[str, Any] = {"good": 0, "bad": 0, "skip": 0, "agree": 0, "agreement": None}
    if not labels:
        return out
    ids = np.array([r[0] for r in labels], dtype=np.int64)
    names = [r[1] for r in labels]
    rows = index.rows_of_docs(ids)
    row_of = dict(zip(index.doc_id[rows].tolist(), rows.tolist(), strict=True))
    mean: dict[str, list[float]] = {"good": [], "bad": []}
    for doc_id, label in zip(ids.tolist(), names, strict=True):
        row = row_of.get(doc_id)
        if row is None:
            continue
        out[label] += 1
        if label == "skip" or cut is None:
            continue
        kept = row < cut
        out["agree"] += int(kept == (label == "good"))
        if not np.isnan(index.prob[row]):
            mean[label].append(float(index.prob[row]))
    judged = out["good"] + out["bad"]
    if judged and cut is not None:
        out["agreement"] = out["agree"] / judged
    out["mean_prob_good"] = float(np.mean(mean["good"])) if mean["good"] else None
    out["mean_prob_bad"] = float(np.mean(mean["bad"])) if mean["bad"] else None
    return out
