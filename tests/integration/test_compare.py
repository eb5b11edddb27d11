"""`betr compare` end to end on stored per-item scores: three tiny proxies (one a byte-identical
copy of another) scored with `betr rbridge score` on constructed mask traces and with `betr
proxy eval` on a small multiple-choice benchmark. The numbers equal `betr rbridge show` /
`betr proxy results`, the intervals equal scipy.stats.bootstrap called here on the per-item
values read back from the workspace, the identical pair differs by exactly 0, the verdicts
follow the intervals, a name with brackets prints verbatim, and bad requests exit 2 with the
fix."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from contextlib import closing

import numpy as np
import pytest
from scipy import stats

from tests.helpers import betr as run_betr
from tests.integration.test_mask_bpb import TRACES as MASK_TRACES
from tests.integration.test_mask_bpb import import_mask_traces

pytestmark = pytest.mark.slow  # three proxies scored and evaluated (torch), once per module

P, Q, COPY = "p[x=1]", "q", "p-copy"
MC_ITEMS = 12


@pytest.fixture(scope="module")
def ws(tmp_path_factory, tiny_lm_dir, tiny_lm_dir_bos):
    from engine.workspace import Workspace

    tmp = tmp_path_factory.mktemp("compare")
    workspace = Workspace.init(tmp / "ws")

    def betr(*args):
        return run_betr(workspace, *args)

    import_mask_traces(betr, tmp)
    mc = tmp / "mc.jsonl"
    mc.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"m{i}",
                    "query": f"Is {i} an even number?",
                    "choices": ["yes it is", "no", "maybe so"],
                    "gold": i % 2,
                }
            )
            + "\n"
            for i in range(MC_ITEMS)
        )
    )
    assert betr("import", "bench", str(mc), "--name", "parity")[0] == 0
    # a second mask benchmark: four of the traces again, under other ids
    (tmp / "mini2.jsonl").write_text(
        "".join(
            json.dumps({"id": f"b{i}", "question": q or "-", "answer": "#### 5"}) + "\n"
            for i, q, _ in MASK_TRACES[:4]
        )
    )
    (tmp / "mask2.jsonl").write_text(
        "".join(
            json.dumps({"id": f"b{i}", "question": q, "reasoning": r}, ensure_ascii=False) + "\n"
            for i, q, r in MASK_TRACES[:4]
        ),
        encoding="utf-8",
    )
    assert betr("import", "bench", str(tmp / "mini2.jsonl"), "--name", "mini2")[0] == 0
    code, _, err = betr(
        "rbridge", "import", str(tmp / "mask2.jsonl"), "--benchmark", "mini2", "--format", "mask"
    )
    assert code == 0, err
    copy = tmp / "copy"
    shutil.copytree(tiny_lm_dir, copy)
    for name, path in ((P, tiny_lm_dir), (Q, tiny_lm_dir_bos), (COPY, copy)):
        code, _, err = betr("proxy", "add", str(path), "--name", name)
        assert code == 0, err
        for bench in ("mini", "mini2"):
            code, _, err = betr("rbridge", "score", "--proxy", name, "--benchmark", bench)
            assert code == 0, err
        code, _, err = betr("proxy", "eval", "--proxy", name, "--benchmark", "parity")
        assert code == 0, err
    return workspace


def compare_json(ws, *args):
    code, out, err = run_betr(ws, "compare", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def scipy_ci(data, statistic, *, paired, seed, n_resamples):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "invalid value", RuntimeWarning)
        res = stats.bootstrap(
            data,
            statistic,
            n_resamples=n_resamples,
            paired=paired,
            vectorized=True,
            rng=np.random.default_rng(seed),
        )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def mask_sums(ws, proxy, bench="mini"):
    """(bits, bytes) per trace of the proxy's score on `bench`, read back from the store."""
    from engine.api.rbridge import scores_table, trace_list

    (score,) = [s for s in scores_table(ws, bench) if s.proxy == proxy]
    rows = trace_list(ws, score.score_id)
    return (
        [r.ext_id for r in rows],
        np.array([r.mask_nll / math.log(2) for r in rows]),
        np.array([float(r.mask_bytes) for r in rows]),
    )


def test_bpb_intervals_and_differences_are_scipys_on_the_stored_traces(ws):
    got = compare_json(
        ws,
        "--proxies",
        f"{P},{Q},{COPY}",
        "--benchmark",
        "mini",
        "--metric",
        "bpb",
        "--resamples",
        "999",
        "--seed",
        "11",
    )
    assert (got["benchmark"], got["metric"], got["n_items"]) == ("mini", "bpb", 5)
    assert (got["n_resamples"], got["confidence"], got["seed"], got["method"]) == (
        999,
        0.95,
        11,
        "BCa",
    )
    assert got["lower_is_better"] is True and got["missing"] == {}
    assert [p["proxy"] for p in got["proxies"]] == [P, Q, COPY]
    ratio = lambda v, w, axis: v.sum(axis) / w.sum(axis)  # noqa: E731
    sums = {name: mask_sums(ws, name) for name in (P, Q, COPY)}
    assert sums[P][0] == sums[Q][0] == ["start", "end", "adjacent", "multibyte", "whole"]
    for row in got["proxies"]:
        shown = run_betr(
            ws, "rbridge", "show", "--proxy", row["proxy"], "--benchmark", "mini", "--json"
        )
        assert row["value"] == pytest.approx(json.loads(shown[1])["bpb"], rel=1e-12)
        _, bits, nbytes = sums[row["proxy"]]
        want = scipy_ci((bits, nbytes), ratio, paired=True, seed=11, n_resamples=999)
        assert (row["ci_low"], row["ci_high"]) == want
    pairs = {(p["a"], p["b"]): p for p in got["paired"]}
    assert list(pairs) == [(P, Q), (P, COPY), (Q, COPY)]
    (_, bp, wp), (_, bq, wq) = sums[P], sums[Q]
    pq = pairs[(P, Q)]
    assert pq["diff"] == pytest.approx(bp.sum() / wp.sum() - bq.sum() / wq.sum(), rel=1e-12)
    want = scipy_ci(
        (bp, wp, bq, wq),
        lambda v, w, x, y, axis: ratio(v, w, axis) - ratio(x, y, axis),
        paired=True,
        seed=11,
        n_resamples=999,
    )
    assert (pq["ci_low"], pq["ci_high"]) == want
    assert pq["distinguishable"] == (want[0] > 0 or want[1] < 0)
    # a byte-identical copy: the same value on every trace, a difference of exactly 0
    same = pairs[(P, COPY)]
    assert (same["diff"], same["ci_low"], same["ci_high"]) == (0.0, 0.0, 0.0)
    assert same["distinguishable"] is False and "exactly 0" in same["note"]
    # the verdicts follow the intervals
    assert len(got["verdicts"]) == 3
    for pair, text in zip(got["paired"], got["verdicts"], strict=True):
        assert text.startswith(f"{pair['a']} ") or " beats " in text
        if pair["distinguishable"]:
            lower_one = pair["a"] if pair["ci_high"] < 0 else pair["b"]
            assert text.startswith(f"{lower_one} beats ")
        else:
            assert " beats " not in text and "no difference" in text


def test_the_text_output_prints_names_verbatim_and_the_verdicts(ws):
    code, out, err = run_betr(
        ws,
        "compare",
        "--proxies",
        f"{P},{COPY}",
        "--benchmark",
        "mini",
        "--metric",
        "bpb",
        "--resamples",
        "500",
    )
    assert code == 0, err
    assert out.startswith("bpb on mini: 5 items, lower is better")
    assert out.count(P) >= 3  # the proxies' table, the pairs' table, the verdict
    assert f"{P} - {COPY}" in out
    assert f"{P} vs {COPY}: no difference ({P} and {COPY} have the same value on every item" in out
    assert "\x1b" not in out
    assert "note: only 5 items: bootstrap intervals over fewer than 20 items" in err


def test_over_two_benchmarks_the_mean_of_their_numbers_resampled_within_each(ws):
    def asked(benchmark):
        return compare_json(
            ws,
            "--proxies",
            f"{P},{Q}",
            "--benchmark",
            benchmark,
            "--metric",
            "bpb",
            "--resamples",
            "999",
            "--seed",
            "3",
        )

    got = asked("mini,mini2")
    assert got["benchmark"] == "mini, mini2" and got["n_items"] == 9
    assert [b["benchmark"] for b in got["benchmarks"]] == ["mini", "mini2"]
    for each in got["benchmarks"]:  # each one's own comparison, as asked alone
        assert each == asked(each["benchmark"])
    sums = {(p, b): mask_sums(ws, p, b)[1:] for p in (P, Q) for b in ("mini", "mini2")}

    def ratio(p, b, idx):
        bits, nbytes = sums[(p, b)]
        return bits[idx].sum(-1) / nbytes[idx].sum(-1)

    for row in got["proxies"]:

        def mean(i, j, axis=-1, p=row["proxy"]):
            return (ratio(p, "mini", i) + ratio(p, "mini2", j)) / 2

        assert row["value"] == pytest.approx(mean(np.arange(5), np.arange(4)), rel=1e-12)
        idx = (np.arange(5), np.arange(4))
        want = scipy_ci(idx, mean, paired=False, seed=3, n_resamples=999)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(want, abs=1e-12)
    (pair,) = got["paired"]

    def diff(i, j, axis=-1):
        return (
            ratio(P, "mini", i) + ratio(P, "mini2", j) - ratio(Q, "mini", i) - ratio(Q, "mini2", j)
        ) / 2

    want = scipy_ci((np.arange(5), np.arange(4)), diff, paired=False, seed=3, n_resamples=999)
    assert (pair["ci_low"], pair["ci_high"]) == pytest.approx(want, abs=1e-12)
    assert any("the mean over 2 benchmarks" in n for n in got["notes"])
    code, out, err = run_betr(
        ws, "compare", "--proxies", f"{P},{Q}", "--benchmark", "mini,mini2", "--metric", "bpb"
    )
    assert code == 0 and "bpb on the mean over mini, mini2: 9 items" in out
    assert "note: mini2: only 4 items" in err


def test_multiple_choice_items_under_another_spelling_of_the_metric(ws):
    got = compare_json(ws, "--proxies", f"{P},{Q}", "--benchmark", "parity", "--metric", "acc-norm")
    assert got["metric"] == "acc_norm" and got["lower_is_better"] is False
    assert got["n_items"] == MC_ITEMS and got["source"].startswith("multiple-choice items")
    _, out, _ = run_betr(ws, "proxy", "results", "--benchmark", "parity", "--json")
    stored = {
        (r["run"], r["metric"]): r["value"] for r in json.loads(out) if r["metric"] == "acc_norm"
    }
    for row in got["proxies"]:
        assert row["value"] == pytest.approx(stored[(row["proxy"], "acc_norm")], abs=1e-12)
        assert row["ci_low"] is None or row["ci_low"] <= row["value"] <= row["ci_high"]


def test_items_only_some_proxies_have_are_left_out_and_said(ws):
    """A proxy evaluated on more items than another: compared on the common ones."""
    from engine.store import evals

    with closing(ws.connect()) as conn, conn:
        q_id = conn.execute("SELECT id FROM proxies WHERE name = ?", (Q,)).fetchone()[0]
        rows = evals.mc_item_rows(conn, q_id)
        conn.execute(
            "DELETE FROM mc_items WHERE proxy_id = ? AND example_id IN (?, ?)",
            (q_id, rows[0]["example_id"], rows[1]["example_id"]),
        )
    try:
        code, out, err = run_betr(
            ws,
            "compare",
            "--proxies",
            f"{P},{Q}",
            "--benchmark",
            "parity",
            "--metric",
            "acc",
            "--json",
        )
        assert code == 0, err
        got = json.loads(out)
        assert got["n_items"] == MC_ITEMS - 2 and got["missing"] == {P: 2}
        assert any(f"left out: 2 of {P}'s" in note for note in got["notes"])
    finally:  # put the workspace back as the module built it
        code, _, err = run_betr(ws, "proxy", "eval", "--proxy", Q, "--benchmark", "parity")
        assert code == 0, err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((f"{P}", "mini", "bpb"), "compare needs at least two proxies"),
        ((f"{P},{P}", "mini", "bpb"), f"proxy '{P}' is named twice"),
        ((f"{P},r", "mini", "bpb"), "no proxy 'r'"),
        ((f"{P},{Q}", "mini", "perplexity"), "unknown metric 'perplexity'"),
        ((f"{P},{Q}", "minni", "bpb"), "did you mean 'mini'"),
        ((f"{P},{Q}", "parity", "bpb"), f"proxy '{P}' has no finished rBridge score on 'parity'"),
        ((f"{P},{Q}", "mini", "acc"), f"proxy '{P}' has no multiple-choice items on 'mini'"),
        ((f"{P},{Q}", "mini,mini", "bpb"), "benchmark 'mini' is named twice"),
    ],
)
def test_bad_requests_exit_2_with_the_fix(ws, args, needle):
    proxies, bench, metric = args
    code, out, err = run_betr(
        ws, "compare", "--proxies", proxies, "--benchmark", bench, "--metric", metric
    )
    assert code == 2 and out == ""
    assert needle in err and "fix:" in err


def test_bad_bootstrap_settings_exit_2(ws):
    base = ("compare", "--proxies", f"{P},{Q}", "--benchmark", "mini", "--metric", "bpb")
    for extra, needle in (
        (("--confidence", "95"), "strictly between 0 and 1"),
        (("--resamples", "0"), "positive whole number"),
        (("--method", "bca"), "'bca' is not one of"),
    ):
        code, _, err = run_betr(ws, *base, *extra)
        assert code == 2 and needle in err, err
