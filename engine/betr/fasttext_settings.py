"""fastText settings that fit the training set's size (METHODS 1.5; README, "train").

The paper's settings (wordNgrams 2, lr 0.03, dim 128, ws 10, minCount 5, epoch 5) were tuned on
a 10M-doc sample, about 2M balanced training docs. fastText starts its output layer at zero, so
every p(positive) starts at 0.5 and moves only as far as the SGD updates push it; their total
size is about lr x epoch x training docs (lr decays linearly to 0 in every setting alike). On
the 486 training docs of the real 2,693-doc pool the paper's settings make 0.03 x 5 x 486 = 73
of them, and every p stays within 1e-5 of 0.5 (held-out AUC 0.51).

**Epochs and learning rate.** Give the optimiser at least MIN_UPDATES = 12,000 lr-weighted
example updates: epochs rise first (at lr 0.5, from the paper's 5 up to 50), then the learning
rate (up to 1.0, where fastText starts to diverge on small sets):

    epoch = clamp(ceil(12,000 / (0.5 n)), 5, 50)
    lr    = clamp(12,000 / (epoch n), 0.03, 1.0)

At n >= 80,000 training docs (0.03 x 5 x 80,000 = 12,000; a sample of about 450,000 docs at the
default 10% positives) this is exactly the paper's epoch 5 and lr 0.03, and every other setting
is the paper's at any size. 12,000 is where held-out AUC stops rising on the real pool (486
training docs: 73 updates AUC 0.57, 2,400-4,900 updates 0.57-0.59, 6,100 0.63, 12,000-24,000
0.66-0.67; 181 training docs: 4,500 updates 0.61, 9,000 0.65; means of 3 seeds).

**Hash buckets.** fastText allocates `bucket` rows of `dim` floats for word n-grams whatever
the data (2M x 128 x 4 bytes: a 1.0 GB model for 486 docs). One bucket per 16 word-n-gram
occurrences of the training text, rounded up to a power of two, at least 2**14, at most
fastText's 2M: the real pool's held-out AUC is the same from 16,384 to 2M buckets (0.669,
0.666, 0.662, 0.665), and the paper's 2M buckets for ~2M training docs hold hundreds of
occurrences each. Past about 32M occurrences (roughly 40,000 training docs of web text) it is
fastText's 2M.

Any setting given explicitly (`betr train --epoch/--lr/--bucket/...`) wins; what was chosen,
by which rule and why, is recorded with the run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PAPER_SETTINGS: dict[str, Any] = dict(wordNgrams=2, lr=0.03, dim=128, ws=10, minCount=5, epoch=5)
MIN_UPDATES = 12_000  # lr x epoch x training docs
BASE_LR, MAX_LR = 0.5, 1.0
MAX_EPOCH = 50
FASTTEXT_BUCKET = 2_000_000  # fastText's default
MIN_BUCKET = 2**14
OCCURRENCES_PER_BUCKET = 16


@dataclass(frozen=True)
class FastTextChoice:
    """The settings fastText trains with, and why: `rule` is "paper" (enough training docs
    for the paper's epoch and lr) or "small-set"; `given` the settings the user gave."""

    params: dict[str, Any]
    rule: str
    why: str
    train_docs: int
    ngram_occurrences: int
    given: list[str] = field(default_factory=list)

    def as_config(self) -> dict[str, Any]:
        return {
            "params": dict(self.params),
            "rule": self.rule,
            "why": self.why,
            "train_docs": self.train_docs,
            "ngram_occurrences": self.ngram_occurrences,
            "given": list(self.given),
        }


def epoch_and_lr(n_train: int) -> tuple[int, float]:
    """(epoch, lr) that give n_train docs at least MIN_UPDATES lr-weighted updates (see the
    module docstring); the paper's (5, 0.03) from 80,000 docs on."""
    n = max(1, n_train)
    epoch = min(MAX_EPOCH, max(PAPER_SETTINGS["epoch"], math.ceil(MIN_UPDATES / (BASE_LR * n))))
    lr = math.ceil(MIN_UPDATES / (epoch * n) * 10_000) / 10_000  # 4 decimals, rounded up
    return epoch, min(MAX_LR, max(PAPER_SETTINGS["lr"], lr))


def ngram_occurrences(words_per_doc: Iterable[int], word_ngrams: int) -> int:
    """Word n-grams (n = 2..word_ngrams) fastText hashes for docs of these word counts."""
    return sum(
        max(0, words - n + 1) for words in words_per_doc for n in range(2, int(word_ngrams) + 1)
    )


def bucket_for(occurrences: int) -> int:
    """Hash buckets for that many n-gram occurrences (see the module docstring)."""
    want = max(MIN_BUCKET, math.ceil(occurrences / OCCURRENCES_PER_BUCKET))
    return min(FASTTEXT_BUCKET, 1 << (want - 1).bit_length())


def choose_settings(
    n_train: int, words_per_doc: Iterable[int], given: Mapping[str, Any] | None = None
) -> FastTextChoice:
    """The settings for `n_train` training docs with these word counts; `given` (fastText
    names) override."""
    given = dict(given or {})
    epoch, lr = epoch_and_lr(n_train)
    params = {**PAPER_SETTINGS, "epoch": epoch, "lr": lr}
    occurrences = ngram_occurrences(words_per_doc, given.get("wordNgrams", params["wordNgrams"]))
    params["bucket"] = bucket_for(occurrences)
    updates = PAPER_SETTINGS["lr"] * PAPER_SETTINGS["epoch"] * n_train
    if updates >= MIN_UPDATES:
        rule = "paper"
        why = (
            f"{n_train:,} training docs: the paper's epoch {PAPER_SETTINGS['epoch']} and lr "
            f"{PAPER_SETTINGS['lr']} give {updates:,.0f} lr-weighted updates (at least "
            f"{MIN_UPDATES:,})"
        )
    else:
        rule = "small-set"
        why = (
            f"{n_train:,} training docs: the paper's epoch {PAPER_SETTINGS['epoch']} and lr "
            f"{PAPER_SETTINGS['lr']} give only {updates:,.0f} lr-weighted updates, under "
            f"{MIN_UPDATES:,}; epoch {epoch} and lr {lr:g} give {epoch * lr * n_train:,.0f}"
        )
    why += f"; {params['bucket']:,} hash buckets for {occurrences:,} word n-grams"
    params.update(given)
    return FastTextChoice(params, rule, why, n_train, occurrences, sorted(given))
