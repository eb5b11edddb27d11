"""The BETR fastText classifier (METHODS 1.5): train, load, predict p(positive), evaluate.

fastText reads one example per line, so texts are normalised first: lowercase, every run of
whitespace (newlines included) to one space, stripped.

fastText training is not bit-for-bit reproducible, not even with one thread and a fixed seed
(measured here with fasttext-numpy2 0.10.4; also marin-community/marin#177): the sha256 of
the saved model identifies what a run used, and scores must be stored, not recomputed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.betr.fasttext_settings import PAPER_SETTINGS
from engine.errors import UsageError

FASTTEXT_DEFAULTS: dict[str, Any] = PAPER_SETTINGS  # the paper's tuning; for the size of a
# training set, engine.betr.fasttext_settings.choose_settings
# fastText (DenseMatrix::uniform) initialises the input matrix in 10 blocks, one per training
# thread, and leaves the blocks of threads it does not start uninitialised: with fewer threads
# the weights start as whatever malloc returned (garbage, NaN losses even at lr 0, models that
# differ run to run). 11 threads cover the 10 blocks and the remainder of the integer split.
FASTTEXT_MIN_THREADS = 11
POSITIVE = "__label__pos"
NEGATIVE = "__label__neg"


def normalize_text(text: str) -> str:
    """Lowercase; newlines and runs of whitespace to one space; stripped. `str.split()` splits
    on exactly the characters the regex `\\s` matches, so this equals
    `re.sub(r"\\s+", " ", text.lower()).strip()` (test_classifier checks it) at 2.7x its speed."""
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class ClassifierInfo:
    """path: the saved .bin; sha256: hex digest of that file; params: the training params."""

    path: Path
    sha256: str
    params: dict[str, Any]


def file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def train_classifier(
    texts: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    out_path: Path,
    params: dict[str, Any] | None = None,
    seed: int = 0,
    threads: int | None = None,
) -> ClassifierInfo:
    """Trains a fastText supervised classifier (labels: 1 = positive) and saves it to
    out_path (mode 0600). params override FASTTEXT_DEFAULTS (also any other fastText
    argument, e.g. bucket: fastText's default 2M hash buckets x dim 128 make a ~1 GB .bin);
    threads=None uses every core, and never fewer than FASTTEXT_MIN_THREADS."""
    import fasttext

    labels = np.asarray(labels)
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if len(np.unique(labels)) < 2:
        raise UsageError(
            "the training set holds a single class; the classifier needs both classes",
            fix="score a larger sample (--sample) or raise --positive-frac",
        )
    merged = {**FASTTEXT_DEFAULTS, **(params or {})}
    merged["seed"] = seed
    merged["thread"] = max(FASTTEXT_MIN_THREADS, int(threads or os.cpu_count() or 1))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="betr-fasttext-", dir=out_path.parent) as tmp:
        train_file = Path(tmp) / "train.txt"
        with open(train_file, "w", encoding="utf-8", errors="surrogatepass") as fh:
            for text, label in zip(texts, labels, strict=True):
                fh.write(f"{POSITIVE if label else NEGATIVE} {normalize_text(text)}\n")
        # verbose=0: no progress lines from the C++ side (they would garble the TUI)
        try:
            model = fasttext.train_supervised(input=str(train_file), verbose=0, **merged)
        except RuntimeError as exc:
            if "NaN" not in str(exc):
                raise
            # the loss diverged: a learning rate too high for the data, not a bug
            raise UsageError(
                f"fastText training diverged (the loss became NaN) with lr={merged['lr']}, "
                f"epoch={merged['epoch']} on {len(texts)} training docs",
                fix="train again with a lower --lr (default 0.03) or fewer --epoch",
            ) from None
        partial = Path(tmp) / "model.bin"
        model.save_model(str(partial))
        os.chmod(partial, 0o600)
        os.replace(partial, out_path)
    return ClassifierInfo(path=out_path, sha256=file_sha256(out_path), params=merged)


def load_classifier(path: Path) -> Any:
    """The fastText model saved by `train_classifier` (fasttext's _FastText)."""
    import fasttext

    path = Path(path)
    if not path.is_file():
        raise UsageError(
            f"classifier {path} does not exist", fix="train it first (betr train) or check the run"
        )
    return fasttext.load_model(str(path))


def predict_positive(model: Any, texts: Sequence[str]) -> np.ndarray:
    """(n,) float64 p(positive) per text, from one batched fastText call."""
    if len(texts) == 0:
        return np.zeros(0, dtype=np.float64)
    labels, probs = model.predict([normalize_text(t) for t in texts], k=2, threshold=0.0)
    # each row: the model's two labels, most probable first
    first_is_pos = np.fromiter((row[0] == POSITIVE for row in labels), dtype=bool, count=len(texts))
    probs = np.asarray(probs, dtype=np.float64).reshape(len(texts), 2)
    p = np.where(first_is_pos, probs[:, 0], probs[:, 1])
    # fastText adds 1e-5 to each probability, so p can exceed 1 by that much
    return np.clip(p, 0.0, 1.0)


def _roc_auc(prob: np.ndarray, label: np.ndarray) -> float | None:
    """Exact ROC-AUC: the Mann-Whitney U of the positives over n_pos * n_neg, from average
    ranks (a tie between a positive and a negative counts one half)."""
    from scipy.stats import rankdata

    n_pos = int(label.sum())
    n_neg = len(label) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(prob)  # average ranks for ties
    u = ranks[label == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def evaluate(
    prob: np.ndarray, label: np.ndarray, betr_score: np.ndarray, threshold: float = 0.5
) -> dict[str, Any]:
    """Validation metrics of p(positive) against the BETR labels.

    Predicted positive = prob >= threshold. Returns n, n_pos, accuracy, precision, recall,
    roc_auc, spearman (of prob vs the BETR score), spearman_p, spearman_n; a metric that is
    undefined here (no positive predicted, a single class, a constant input, n < 3) is None.
    """
    prob = np.asarray(prob, dtype=np.float64)
    label = np.asarray(label).astype(np.int64)
    betr_score = np.asarray(betr_score, dtype=np.float64)
    if not (prob.shape == label.shape == betr_score.shape) or prob.ndim != 1:
        raise ValueError(
            f"prob {prob.shape}, label {label.shape} and betr_score {betr_score.shape} "
            "must be equal-length vectors"
        )
    n = len(prob)
    pred = prob >= threshold
    truth = label == 1
    tp = int((pred & truth).sum())
    out: dict[str, Any] = {
        "n": n,
        "n_pos": int(truth.sum()),
        "threshold": threshold,
        "accuracy": float((pred == truth).mean()) if n else None,
        "precision": tp / int(pred.sum()) if pred.any() else None,
        "recall": tp / int(truth.sum()) if truth.any() else None,
        "roc_auc": _roc_auc(prob, label),
        "spearman": None,
        "spearman_p": None,
        "spearman_n": n,
    }
    if n >= 3 and np.ptp(prob) > 0 and np.ptp(betr_score) > 0:
        from scipy.stats import spearmanr

        result = spearmanr(prob, betr_score)
        out["spearman"] = float(result.statistic)
        out["spearman_p"] = float(result.pvalue)
    return out
