"""BETR labels, the fastText classifier and its validation metrics."""

from __future__ import annotations

import random
import stat

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, spearmanr

from engine.betr.classifier import (
    FASTTEXT_DEFAULTS,
    evaluate,
    load_classifier,
    normalize_text,
    predict_positive,
    train_classifier,
)
from engine.betr.labels import make_labels
from engine.errors import UsageError

# ----------------------------------------------------------------------------- labels


def shuffled_order(n: int, seed: int = 42) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n)


def test_labels_counts_and_splits():
    order = shuffled_order(200)
    labels = make_labels(order, 200)
    assert labels.label.dtype == np.int8
    assert labels.n_positive == 20  # ceil(0.10 * 200)
    assert labels.label[order[:20]].tolist() == [1] * 20
    assert labels.label[order[20:]].sum() == 0
    assert len(labels.valid_idx) == 20  # ceil(0.10 * 200), drawn before balancing
    assert (labels.split == "valid").sum() == 20
    assert set(np.flatnonzero(labels.split == "valid")) == set(labels.valid_idx)
    assert not set(labels.train_idx) & set(labels.valid_idx)
    counts = labels.counts()
    pos_left = 20 - counts["valid_pos"]
    assert counts["train_pos"] == counts["train_neg"] == pos_left  # balanced by downsampling
    assert counts["valid_pos"] + counts["valid_neg"] == 20
    assert len(labels.train_idx) == 2 * pos_left
    assert (labels.split[labels.train_idx] == "train").all()


def test_labels_round_up_and_are_deterministic_for_a_seed():
    order = shuffled_order(95)
    a = make_labels(order, 95, positive_frac=0.1, valid_frac=0.2, seed=7)
    b = make_labels(order, 95, positive_frac=0.1, valid_frac=0.2, seed=7)
    c = make_labels(order, 95, positive_frac=0.1, valid_frac=0.2, seed=8)
    assert a.n_positive == 10 and len(a.valid_idx) == 19  # ceil(9.5), ceil(19.0)
    assert np.array_equal(a.train_idx, b.train_idx) and np.array_equal(a.valid_idx, b.valid_idx)
    assert not np.array_equal(a.valid_idx, c.valid_idx)
    assert make_labels(np.arange(30), 30).n_positive == 3  # 0.1 * 30 is not 3.0000000004


def test_too_small_a_sample_is_refused_with_the_fix():
    with pytest.raises(UsageError) as info:
        make_labels(np.arange(10), 10)
    assert "10 docs" in str(info.value) and "--sample" in str(info.value)


def test_a_class_missing_from_training_or_validation_is_refused():
    # one positive in 100 docs: it lands either in training or in validation, never both
    with pytest.raises(UsageError) as info:
        make_labels(np.arange(100), 100, positive_frac=0.005)
    assert "--positive-frac" in str(info.value)
    assert "1 positive" in str(info.value)


def test_fractions_outside_zero_one_are_usage_errors():
    with pytest.raises(UsageError, match="positive fraction"):
        make_labels(np.arange(100), 100, positive_frac=1.5)
    with pytest.raises(UsageError, match="validation fraction"):
        make_labels(np.arange(100), 100, valid_frac=0.0)


def test_order_must_be_a_permutation():
    with pytest.raises(ValueError, match="permutation"):
        make_labels(np.array([0, 0, 1]), 3)


# ----------------------------------------------------------------------------- classifier


def test_normalize_text_splits_on_exactly_the_regex_whitespace():
    import re

    space = re.compile(r"\s")
    chars = (chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    assert [c for c in chars if (space.fullmatch(c) is not None) != c.isspace()] == []
    tricky = ["\x1c a\x1fb \u2028\u3000C\u0085d ", "\u00a0", "x\ny", "  ", "İ\tI", "a\u200bb"]
    for text in tricky:
        assert normalize_text(text) == re.sub(r"\s+", " ", text.lower()).strip()


def test_normalize_text():
    assert normalize_text("  Hello\n\nWORLD\t again  \r\n") == "hello world again"
    assert normalize_text("A\u00a0B\u2003C") == "a b c"  # unicode spaces too
    assert normalize_text("") == ""


def test_paper_defaults():
    assert dict(wordNgrams=2, lr=0.03, dim=128, ws=10, minCount=5, epoch=5) == FASTTEXT_DEFAULTS


MATH = "equation algebra theorem proof integer fraction sum multiply solve number".split()
COOKING = "recipe soup garlic bake oven flour butter onion simmer salt".split()
COMMON = "the a of and to in is it with for".split()


def synthetic_texts(n: int, seed: int = 0) -> tuple[list[str], list[int]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        topic = MATH if i % 2 else COOKING
        words = [rng.choice(topic + COMMON) for _ in range(rng.randrange(8, 20))]
        texts.append(" ".join(words).capitalize() + ".\nMore:  " + rng.choice(topic))
        labels.append(i % 2)
    return texts, labels


TEST_PARAMS = dict(minCount=1, epoch=25, lr=0.5, bucket=20000)  # small .bin: 2M buckets is ~1 GB


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    texts, labels = synthetic_texts(400)
    out = tmp_path_factory.mktemp("clf") / "classifier.bin"
    return train_classifier(texts, labels, out, params=TEST_PARAMS, seed=0, threads=1)


def test_training_saves_an_owner_only_model_with_its_sha256(trained):
    import hashlib

    assert trained.path.is_file()
    assert stat.S_IMODE(trained.path.stat().st_mode) == 0o600
    assert trained.sha256 == hashlib.sha256(trained.path.read_bytes()).hexdigest()
    assert trained.params["wordNgrams"] == 2 and trained.params["minCount"] == 1
    # fastText leaves its weights uninitialised with fewer than 11 threads (FASTTEXT_MIN_THREADS)
    assert trained.params["seed"] == 0 and trained.params["thread"] == 11
    assert list(trained.path.parent.iterdir()) == [trained.path]  # no temp files left


def test_predict_positive_separates_the_topics(trained):
    model = load_classifier(trained.path)
    prob = predict_positive(
        model,
        [
            "Solve the equation: multiply the fraction by the integer.",
            "Theorem and proof about the sum of a number",
            "Bake the recipe in the oven with butter and flour.",
            "Simmer the soup with garlic, onion and salt",
        ],
    )
    assert prob.dtype == np.float64 and prob.shape == (4,)
    assert (prob[:2] > 0.9).all() and (prob[2:] < 0.1).all()
    assert predict_positive(model, []).shape == (0,)


def test_retraining_gives_the_same_predictions_to_training_precision(trained, tmp_path):
    # fastText is not bit-for-bit reproducible (see engine.betr.classifier), but close
    texts, labels = synthetic_texts(400)
    again = train_classifier(
        texts, labels, tmp_path / "again.bin", params=TEST_PARAMS, seed=0, threads=1
    )
    probe, _ = synthetic_texts(40, seed=9)
    first = predict_positive(load_classifier(trained.path), probe)
    second = predict_positive(load_classifier(again.path), probe)
    assert np.array_equal(first > 0.5, second > 0.5)
    assert np.abs(first - second).max() < 0.05


def test_training_needs_both_classes(tmp_path):
    with pytest.raises(UsageError, match="single class"):
        train_classifier(["a b", "c d"], [1, 1], tmp_path / "x.bin")


def test_loading_a_missing_classifier_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load_classifier(tmp_path / "missing.bin")


# ----------------------------------------------------------------------------- metrics

PROB = np.array([0.9, 0.8, 0.4, 0.6, 0.3, 0.6, 0.1, 0.6])
LABEL = np.array([1, 1, 1, 0, 0, 1, 0, 0])
BETR = np.array([0.5, 1.0, 0.25, 0.0, 0.0, 0.2, 0.0, 0.1])


def test_evaluate_exact_values():
    m = evaluate(PROB, LABEL, BETR)
    # predicted positive (>= 0.5): docs 0 1 3 5 7 -> TP 0 1 5, FP 3 7, FN 2, TN 4 6
    assert m["n"] == 8 and m["n_pos"] == 4
    assert m["accuracy"] == 5 / 8
    assert m["precision"] == 3 / 5
    assert m["recall"] == 3 / 4
    # pairs (pos, neg), ties count 1/2: .9 beats 4, .8 beats 4, .4 beats 2, .6 beats 2 + 2 ties
    assert m["roc_auc"] == 13 / 16
    u = mannwhitneyu(PROB[LABEL == 1], PROB[LABEL == 0]).statistic
    assert m["roc_auc"] == u / 16
    expected = spearmanr(PROB, BETR)
    assert m["spearman"] == pytest.approx(expected.statistic, abs=1e-15)
    assert m["spearman_p"] == pytest.approx(expected.pvalue, rel=1e-12)
    assert m["spearman_n"] == 8


def test_auc_matches_mann_whitney_on_random_ties():
    rng = np.random.default_rng(3)
    prob = rng.integers(0, 5, 300) / 4  # many ties
    label = rng.integers(0, 2, 300)
    u = mannwhitneyu(prob[label == 1], prob[label == 0]).statistic
    n1, n0 = label.sum(), (1 - label).sum()
    assert evaluate(prob, label, prob)["roc_auc"] == pytest.approx(u / (n1 * n0), abs=1e-15)


def test_undefined_metrics_are_none():
    one_class = evaluate(PROB, np.ones(8, dtype=int), BETR)
    assert one_class["roc_auc"] is None and one_class["recall"] == 5 / 8
    no_predicted = evaluate(np.full(8, 0.1), LABEL, BETR)
    assert no_predicted["precision"] is None and no_predicted["spearman"] is None
    assert no_predicted["roc_auc"] == 0.5  # all tied
    tiny = evaluate(PROB[:2], LABEL[:2], BETR[:2])
    assert tiny["spearman"] is None and tiny["roc_auc"] is None
