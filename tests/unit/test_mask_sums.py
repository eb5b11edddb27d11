"""The release's masked-span sums on hand-made tokens: overlap (not start) decides, adjacent
spans count a token once, bytes are UTF-8 bytes of the spans, a token with nothing to condition
on is left out and counted, and the benchmark's bpb is a ratio of sums, not a mean of ratios."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.rbridge.scoring import count_words, mask_sums, release_mask_metrics


def test_overlap_adjacent_spans_and_bytes_by_hand():
    question, reasoning = "Q?", "ab cdé f"
    # text "Q?ab cdé f": tokens [0,2) "Q?", [2,5) "ab ", [5,8) "cdé", [8,10) " f"
    offsets = np.array([[0, 2], [2, 5], [5, 8], [8, 10]])
    nll = np.array([np.nan, 1.0, 2.0, 4.0])  # the first token has nothing before it
    # spans on the reasoning: [0, 1) "a" and [1, 4) "b c" (adjacent), [5, 6) "é"
    res = mask_sums(
        offsets, nll, question=question, reasoning=reasoning, spans=[(0, 1), (1, 4), (5, 6)]
    )
    # "ab " overlaps the first two spans (once), "cdé" overlaps "b c" and "é"; " f" none
    assert res.nll == 3.0 and res.n_tokens == 2 and res.n_unscored == 0
    assert res.n_bytes == 1 + 3 + 2  # "é" is two bytes
    assert res.n_words == count_words("a") + count_words("b c") + count_words("é") == 4


def test_a_span_over_the_unconditioned_first_token_is_counted_apart():
    res = mask_sums(
        np.array([[0, 3], [3, 5]]),
        np.array([np.nan, 2.0]),
        question="",
        reasoning="abcde",
        spans=[(0, 5)],
    )
    assert (res.nll, res.n_tokens, res.n_unscored, res.n_bytes) == (2.0, 1, 1, 5)


def test_benchmark_bpb_sums_before_dividing():
    rows = [
        {"mask_nll": 10.0, "mask_bytes": 10, "mask_words": 2},
        {"mask_nll": 1.0, "mask_bytes": 90, "mask_words": 20},
        {"mask_nll": None, "mask_bytes": None, "mask_words": None},
    ]
    m = release_mask_metrics(rows)
    assert m["bpb"] == pytest.approx(11.0 / (100 * math.log(2)))
    assert m["bpb"] != pytest.approx(np.mean([10 / (10 * math.log(2)), 1 / (90 * math.log(2))]))
    assert m["byte_perplexity"] == pytest.approx(math.exp(11.0 / 100))
    assert m["word_perplexity"] == pytest.approx(math.exp(11.0 / 22))
    assert release_mask_metrics(rows[2:]) == {
        "bpb": None,
        "byte_perplexity": None,
        "word_perplexity": None,
    }
