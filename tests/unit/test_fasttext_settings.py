"""fastText settings for the training set's size: hand-computed from the rule in
engine/betr/fasttext_settings.py (at least 12,000 lr-weighted updates; one hash bucket per 16
word n-grams)."""

from __future__ import annotations

import math

import pytest

from engine.betr.fasttext_settings import (
    MIN_UPDATES,
    PAPER_SETTINGS,
    bucket_for,
    choose_settings,
    epoch_and_lr,
    ngram_occurrences,
)


@pytest.mark.parametrize(
    ("n_train", "expected"),
    [
        (181, (50, 1.0)),  # 12,000 / (0.5 x 181) = 132.6 epochs: 50; lr 1.326: capped at 1.0
        (486, (50, 0.4939)),  # the real pool: ceil(49.38) = 50; 12,000 / 24,300 = 0.49383
        (540, (45, 0.4939)),  # the demo: ceil(44.44) = 45; 12,000 / 24,300 again
        (1_800, (14, 0.4762)),  # ceil(13.33) = 14; 12,000 / 25,200 = 0.47619
        (20_000, (5, 0.12)),  # ceil(1.2) = 2, at least the paper's 5; 12,000 / 100,000
        (80_000, (5, 0.03)),  # exactly the paper's from here on
        (2_000_000, (5, 0.03)),
    ],
)
def test_epoch_and_lr_give_at_least_the_minimum_updates(n_train, expected):
    epoch, lr = epoch_and_lr(n_train)
    assert (epoch, lr) == pytest.approx(expected)
    if lr < 1.0:
        assert epoch * lr * n_train >= MIN_UPDATES


@pytest.mark.parametrize(
    ("occurrences", "bucket"),
    [
        (0, 2**14),
        (16 * 2**14, 2**14),  # exactly one bucket per 16
        (16 * 2**14 + 1, 2**15),
        (342_588, 2**15),  # the real pool's 486 training docs: ceil(21,411.75) -> 32,768
        (10**9, 2_000_000),  # fastText's default is the most
    ],
)
def test_buckets_one_per_16_ngrams_a_power_of_two_within_fasttexts(occurrences, bucket):
    assert bucket_for(occurrences) == bucket


def test_ngram_occurrences_count_each_n_from_2():
    assert ngram_occurrences([3, 1, 0], 2) == 2
    assert ngram_occurrences([5], 3) == 4 + 3
    assert ngram_occurrences([5], 1) == 0


def test_a_small_set_gets_the_rule_and_given_settings_win():
    words = [100] * 486
    choice = choose_settings(486, words)
    assert choice.rule == "small-set" and choice.given == []
    assert choice.params == {
        **PAPER_SETTINGS,
        "epoch": 50,
        "lr": 0.4939,
        "bucket": 2**14,  # 486 x 99 bigrams / 16 = 3,007: the least
    }
    assert choice.ngram_occurrences == 486 * 99
    assert "only 73 lr-weighted updates, under 12,000; epoch 50 and lr 0.4939" in choice.why
    given = choose_settings(486, words, {"epoch": 1, "lr": 1e-4})
    assert (given.params["epoch"], given.params["lr"], given.given) == (1, 1e-4, ["epoch", "lr"])
    assert given.as_config()["params"] == given.params


def test_from_80000_training_docs_the_papers_settings():
    choice = choose_settings(80_000, [1_000] * 80_000)
    assert choice.rule == "paper"
    assert choice.params == {**PAPER_SETTINGS, "bucket": 2_000_000}
    assert math.isclose(0.03 * 5 * 80_000, MIN_UPDATES)
