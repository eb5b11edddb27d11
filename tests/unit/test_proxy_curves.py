"""The rBridge screen's proxy plot: one curve per (dataset, size), never two sizes of one
dataset joined into a zig-zag line; checkpoints in token order; unscored, token-less and
non-finite points left out."""

from __future__ import annotations

import math

from engine.api.rbridge_views import Curve, ProxyScore, curves


def row(proxy_id, dataset, params, tokens, rbridge, *, step=None, scored=True, bpb=1.0):
    return ProxyScore(
        proxy_id=proxy_id,
        proxy=f"p{proxy_id}",
        dataset=dataset,
        params=params,
        step=step,
        tokens=tokens,
        score_id=proxy_id if scored else None,
        minmax=None,
        rbridge=rbridge,
        nll_rphi=7.0,
        nll_gold=6.5,
        bpb=bpb,
        bpb_prompted=None,
        n_traces=None,
        n_scored=None,
        flags={},
        pending=[],
        stopped=None,
    )


def test_two_sizes_of_one_dataset_are_two_curves_in_token_order():
    rows = [
        row(1, "top", 250_000, 2e5, 0.41),
        row(2, "top", 1_000_000, 2e5, 0.38),
        row(3, "top", 250_000, 1e5, 0.45),
        row(4, "top", 1_000_000, 1e5, 0.40),
        row(5, "top", 250_000, 3e5, 0.39),
        row(6, "random", 250_000, 1e5, 0.47),
        row(7, "top", 250_000, None, 0.30),  # no token count: not on a tokens axis
        row(8, "top", 250_000, 4e5, 0.31, scored=False),  # not scored
        row(9, "top", 1_000_000, 3e5, math.nan),  # NaN: left out
    ]
    got = curves(rows, "rbridge")
    assert got == [
        Curve("random", 250_000, [1e5], [0.47]),
        Curve("top", 250_000, [1e5, 2e5, 3e5], [0.45, 0.41, 0.39]),
        Curve("top", 1_000_000, [1e5, 2e5], [0.40, 0.38]),
    ]
    # each curve is one (dataset, size): no curve mixes sizes
    for c in got:
        members = [r for r in rows if (r.dataset, r.params) == (c.dataset, c.params)]
        assert set(c.tokens) <= {r.tokens for r in members}


def test_another_metric_gives_its_own_values():
    rows = [row(1, "top", 10, 1e5, 0.4, bpb=4.8), row(2, "top", 10, 2e5, 0.3, bpb=4.7)]
    assert curves(rows, "bpb") == [Curve("top", 10, [1e5, 2e5], [4.8, 4.7])]
