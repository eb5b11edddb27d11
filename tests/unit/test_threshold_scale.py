"""The keep threshold over shards (engine.betr.threshold_scale, engine.exec.ray_threshold with
engine="local") equals `keep_count` on the full sort (probability descending, doc id
ascending), with many ties, by tokens and by docs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.betr.runindex import keep_count
from engine.betr.scale import (
    BINS,
    Candidates,
    Histogram,
    bin_of,
    cut_bin,
    exact_cut,
    in_bin,
    merge,
    partial,
    threshold_of,
)
from engine.errors import InputError

KEEPS = (1e-6, 0.001, 0.01, 0.05, 0.1, 0.1234, 0.25, 1 / 3, 0.5, 0.75, 0.9, 0.999, 1.0)


def reference(prob, tie, n_tokens, keep, by):
    """The local engine: sort everything, then keep_count."""
    order = np.lexsort((tie, -prob))
    cum = np.cumsum(n_tokens[order], dtype=np.int64)
    k = keep_count(cum, keep, by)
    return float(prob[order][k - 1]), k, int(cum[k - 1]), tie[order][k - 1]


def sharded(prob, tie, n_tokens, bounds, keep, by):
    """Both passes over the shards [bounds[i], bounds[i+1])."""
    parts = list(itertools.pairwise(bounds))
    hist = merge(*(partial(prob[a:b], n_tokens[a:b]) for a, b in parts))

    def gather(b: int) -> Candidates:
        cands = []
        for lo, hi in parts:
            m = in_bin(prob[lo:hi], b)
            cands.append(Candidates(prob[lo:hi][m], tie[lo:hi][m], n_tokens[lo:hi][m]))
        return Candidates.concat(cands)

    th = threshold_of(hist, gather, keep, by)
    return th.prob, th.kept_docs, th.kept_tokens, th.last_tie


def data(seed: int, n: int, decimals: int | None):
    rng = np.random.default_rng(seed)
    prob = rng.beta(0.5, 2.0, size=n)
    if decimals is not None:
        prob = np.round(prob, decimals)  # many ties
    prob[rng.choice(n, size=max(1, n // 50), replace=False)] = 1.0  # the top bin's edge
    prob[rng.choice(n, size=max(1, n // 50), replace=False)] = 0.0
    n_tokens = rng.integers(0, 3000, size=n)  # zero-token docs too
    tie = rng.permutation(n).astype(np.int64) + 1  # doc ids, not in shard order
    return prob, tie, n_tokens


@pytest.mark.parametrize("decimals", [None, 1, 2, 3])
@pytest.mark.parametrize("by", ["tokens", "docs"])
def test_equals_the_full_sort(decimals, by):
    prob, tie, n_tokens = data(7 + (decimals or 0), 5000, decimals)
    bounds = [0, 1, 700, 700, 2100, 4999, 5000]  # an empty shard and a one-doc shard
    for keep in KEEPS:
        assert sharded(prob, tie, n_tokens, bounds, keep, by) == reference(
            prob, tie, n_tokens, keep, by
        ), keep


def test_every_keep_rate_on_a_small_tied_corpus():
    prob, tie, n_tokens = data(3, 200, 1)
    for by in ("tokens", "docs"):
        for keep in np.linspace(0.001, 1.0, 400):
            got = sharded(prob, tie, n_tokens, [0, 50, 120, 200], float(keep), by)
            assert got == reference(prob, tie, n_tokens, float(keep), by)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.0, 0.25, 0.5, 0.5 + 2**-20, 0.75, 1.0, 0.3333, 0.99999]),
            st.integers(0, 50),
        ),
        min_size=1,
        max_size=60,
    ),
    st.floats(1e-4, 1.0),
    st.sampled_from(["tokens", "docs"]),
    st.integers(1, 5),
)
def test_hypothesis(rows, keep, by, n_shards):
    prob = np.array([r[0] for r in rows], dtype=np.float64)
    n_tokens = np.array([r[1] for r in rows], dtype=np.int64)
    tie = np.arange(len(rows), dtype=np.int64)[::-1].copy()
    bounds = sorted({0, len(rows), *np.linspace(0, len(rows), n_shards + 1).astype(int)})
    assert sharded(prob, tie, n_tokens, bounds, keep, by) == reference(
        prob, tie, n_tokens, keep, by
    )


def test_binning_is_monotone_and_merge_adds():
    p = np.array([0.0, 2**-17, 2**-16, 0.5, 1 - 2**-53, 1.0])
    assert bin_of(p).tolist() == [0, 0, 1, BINS // 2, BINS - 1, BINS - 1]
    h = merge(partial(p[:3], np.array([1, 2, 3])), partial(p[3:], np.array([4, 5, 6])))
    assert isinstance(h, Histogram)
    assert (h.total_docs, h.total_tokens) == (6, 21)
    assert h.tokens[BINS - 1] == 11 and h.docs[0] == 2


def test_cut_bin_and_exact_cut_by_hand():
    # probs 0.9 (10 tok), 0.9 (30 tok), 0.5 (20 tok), 0.1 (40 tok); ties by id: 2 before 5
    prob = np.array([0.9, 0.9, 0.5, 0.1])
    tok = np.array([10, 30, 20, 40])
    tie = np.array([5, 2, 3, 4])
    cut = cut_bin(partial(prob, tok), 0.25, "tokens")  # 25 of 100 tokens
    assert (cut.before_docs, cut.before_tokens) == (0, 0)
    m = in_bin(prob, cut.bin)
    th = exact_cut(Candidates(prob[m], tie[m], tok[m]), cut)
    # doc 2 (30 tokens) comes first and reaches 25 alone
    assert (th.prob, th.kept_docs, th.kept_tokens, th.last_tie) == (0.9, 1, 30, 2)
    cut = cut_bin(partial(prob, tok), 0.5, "docs")
    m = in_bin(prob, cut.bin)
    th = exact_cut(Candidates(prob[m], tie[m], tok[m]), cut)
    assert (th.prob, th.kept_docs, th.kept_tokens) == (0.9, 2, 40)


def test_bad_probabilities_name_the_row():
    with pytest.raises(InputError, match="row 1"):
        partial(np.array([0.5, np.nan]), np.array([1, 1]), "a.parquet")
    with pytest.raises(InputError, match="not in"):
        partial(np.array([1.5]), np.array([1]))


def test_local_driver_over_parquet_shards(tmp_path):
    """engine.exec.ray_threshold with engine="local" over Parquet files in the Ray output shape;
    the default tie (input order: the shard's source file, then the row)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from engine.exec.scale.threshold import score_shards, shard_threshold

    prob, _tie, n_tokens = data(11, 3000, 2)
    bounds = [0, 1000, 1800, 3000]
    # output files named so their sort differs from their source order
    names = ["c-1.parquet", "a-2.parquet", "b-3.parquet"]
    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        pq.write_table(
            pa.table(
                {
                    "id": [f"doc-{k}" for k in range(lo, hi)],
                    "prob": prob[lo:hi],
                    "n_tokens": n_tokens[lo:hi],
                    "shard": [f"/in/part-{i}.jsonl"] * (hi - lo),
                }
            ),
            tmp_path / names[i],
        )
    (tmp_path / "x.parquet.tmp").write_text("being written")
    paths = score_shards(tmp_path)
    assert [p.rsplit("/", 1)[1] for p in paths] == sorted(names)
    input_order = np.arange(3000, dtype=np.int64)
    for by in ("tokens", "docs"):
        for keep in KEEPS:
            th, info = shard_threshold(paths, keep, by, engine="local")
            want = reference(prob, input_order, n_tokens, keep, by)
            assert (th.prob, th.kept_docs, th.kept_tokens) == want[:3]
            k = int(want[3])
            shard = int(np.searchsorted(bounds, k, side="right")) - 1
            assert th.last_tie == (shard << 32) | (k - bounds[shard])
            assert info["shards"] == 3 and info["docs"] == 3000


def test_a_nan_probability_is_named_plainly():
    """The message says "nan", not numpy's repr "np.float64(nan)" (issue 19.11)."""
    from engine.betr.scale import check_probs

    with pytest.raises(InputError) as err:
        check_probs(np.array([0.5, np.nan]), np.array([3, 4]), "s.parquet")
    assert "probability nan at row 1 is not in [0, 1]" in str(err.value)
    assert "np." not in str(err.value)
