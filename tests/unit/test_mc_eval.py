"""Multiple-choice evaluation: the metrics on hand-computed items, and the proxy-mc-eval job on a
tiny benchmark (log-likelihoods from a direct forward pass, resume after a crash, replaced
evaluation rows, a benchmark without choices refused)."""

from __future__ import annotations

import json
import math
from contextlib import closing

import numpy as np
import pytest

from engine.errors import UsageError
from engine.rbridge.mc import item_row, mc_metrics


# -- metrics by hand ----------------------------------------------------------------------------
def test_item_by_hand():
    row = item_row([-1.0, -2.0, -0.5], 2, [2, 8, 1])
    # argmax loglik: choice 2 (gold); per character: -0.5, -0.25, -0.5 -> choice 1
    z = math.exp(-1.0) + math.exp(-2.0) + math.exp(-0.5)
    assert row == {
        "pred": 2,
        "pred_norm": 1,
        "correct": True,
        "correct_norm": False,
        "confidence": pytest.approx(math.exp(-0.5) / z, rel=1e-12),
        "p_gold": pytest.approx(math.exp(-0.5) / z, rel=1e-12),
    }
    assert math.exp(-0.5) / z == pytest.approx(0.5465493, abs=1e-7)


def test_ties_take_the_first_maximum():
    row = item_row([-3.0, -3.0], 1, [3, 3])
    assert (row["pred"], row["pred_norm"], row["correct"], row["confidence"]) == (0, 0, False, 0.5)
    assert row["p_gold"] == 0.5


def test_means_over_items_by_hand():
    res = mc_metrics(
        [[-1.0, -2.0, -0.5], [-3.0, -3.0], [-4.0, -1.0]],
        [2, 1, 1],
        [[2, 8, 1], [3, 3], [10, 2]],
    )
    # acc: True, False (tie -> 0), True; acc_norm: False (1), False (tie -> 0), and item 3 per
    # character -4/10 = -0.4 > -1/2 = -0.5 -> choice 0: False
    p1 = math.exp(-0.5) / (math.exp(-1.0) + math.exp(-2.0) + math.exp(-0.5))
    p3 = 1.0 / (1.0 + math.exp(-3.0))
    assert res.n_items == 3
    assert res.acc == pytest.approx(2 / 3, rel=1e-12)
    assert res.acc_norm == 0.0
    assert res.confidence == pytest.approx((p1 + 0.5 + p3) / 3, rel=1e-12)
    assert [r["pred_norm"] for r in res.rows] == [1, 0, 0]
    assert res.metrics() == {"acc": res.acc, "acc_norm": 0.0, "confidence": res.confidence}


def test_no_items_and_bad_items():
    empty = mc_metrics([], [], [])
    assert (empty.acc, empty.acc_norm, empty.confidence, empty.n_items) == (None, None, None, 0)
    with pytest.raises(ValueError, match="gold index 3 is outside the 2 choices"):
        item_row([-1.0, -2.0], 3, [1, 1])
    with pytest.raises(ValueError, match="2 log-likelihoods but 1 choice lengths"):
        item_row([-1.0, -2.0], 0, [1])
    with pytest.raises(ValueError, match="finite"):
        item_row([-1.0, float("nan")], 0, [1, 1])
    with pytest.raises(ValueError, match="one entry per item"):
        mc_metrics([[-1.0]], [0, 0], [[1]])


# -- the job ------------------------------------------------------------------------------------
ITEMS = [
    ("q1", "Which gas do plants take in to make food?", ["oxygen", "carbon dioxide", "helium"], 1),
    ("q2", "What causes the tides on Earth?", ["the wind", "the Moon's gravity"], 1),
    ("q3", "Which tool measures temperature?", ["a ruler", "a thermometer", "a compass"], 1),
    ("q4", "How many legs does a spider have?", ["eight", "six", "four", "ten"], 0),
    ("q5", "What is 48 / 2?", ["24", "42"], 0),
]


def write_benchmarks(tmp_path):
    mc = tmp_path / "mini_mc.jsonl"
    mc.write_text(
        "".join(
            json.dumps({"id": i, "query": f"Question: {q}\nAnswer:", "choices": c, "gold": g})
            + "\n"
            for i, q, c, g in ITEMS
        ),
        encoding="utf-8",
    )
    gsm = tmp_path / "mini_gsm.jsonl"
    gsm.write_text(
        json.dumps({"question": "What is 2 + 3?", "answer": "2 + 3 = 5\n#### 5"}) + "\n",
        encoding="utf-8",
    )
    return mc, gsm


def direct_logliks(path) -> list[list[float]]:
    """Each choice's log-likelihood after "Question: {q}\\nAnswer:" from one full forward pass."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()
    out = []
    for _, q, choices, _ in ITEMS:
        ctx = tok.encode(f"Question: {q}\nAnswer:").ids
        row = []
        for c in choices:
            tgt = tok.encode(" " + c, add_special_tokens=False).ids
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([ctx + tgt])).logits[0].double()
            logp = torch.log_softmax(logits, dim=-1)
            row.append(sum(logp[len(ctx) + j - 1, t].item() for j, t in enumerate(tgt)))
        out.append(row)
    return out


@pytest.fixture
def mc_workspace(workspace, tmp_path, tiny_lm_dir):
    from engine.api.imports import import_benchmark_files
    from engine.api.proxies import add_proxy

    mc, gsm = write_benchmarks(tmp_path)
    import_benchmark_files(workspace, [str(mc)], "mini-mc", category="science")
    import_benchmark_files(workspace, [str(gsm)], "mini-gsm")
    proxy = add_proxy(workspace, str(tiny_lm_dir), name="tiny", dataset="mix", tokens=1000, step=5)
    return workspace, proxy


def run_eval(ws, names, **kwargs):
    from engine.api import jobs
    from engine.api.proxies import mc_eval_spec

    job_id = jobs.queue(ws, mc_eval_spec(ws, "tiny", names, device="cpu", **kwargs))
    return job_id, jobs.run_here(ws, job_id)


def stored(ws):
    from engine.store import evals

    with closing(ws.connect(readonly=True)) as conn:
        return evals.mc_item_rows(conn, 1), evals.eval_results(conn, proxy_id=1)


def test_mc_eval_job_end_to_end_with_resume(mc_workspace, tiny_lm_dir, monkeypatch):
    from engine.api import jobs
    from engine.api.proxies import mc_eval_spec
    from engine.jobs.kinds import mc_eval
    from engine.store import evals
    from engine.units import abbreviate

    ws, proxy = mc_workspace
    # a first run on 2 items, then a run on all that crashes after its first chunk of 1
    _, first = run_eval(ws, ["mini-mc"], limit=2)
    assert first["benchmarks"]["mini-mc"]["n_items"] == 2 and first["items_scored_now"] == 2
    monkeypatch.setattr(mc_eval, "CHUNK_ITEMS", 1)
    real, calls = evals.upsert_mc_items, {"n": 0}

    def dies_on_second_chunk(conn, proxy_id, rows):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("simulated crash")
        return real(conn, proxy_id, rows)

    monkeypatch.setattr(evals, "upsert_mc_items", dies_on_second_chunk)
    job_id = jobs.queue(ws, mc_eval_spec(ws, "tiny", ["mini-mc"], device="cpu"))
    with pytest.raises(RuntimeError, match="simulated crash"):
        jobs.run_here(ws, job_id)
    items, _ = stored(ws)
    assert len(items) == 3  # the limited run's 2, and the crashed run's first chunk
    monkeypatch.setattr(evals, "upsert_mc_items", real)
    jobs.resume(ws, job_id, detach=False)
    result = jobs.run_here(ws, job_id)
    assert result["items_scored_now"] == 2

    items, results = stored(ws)
    expected = direct_logliks(tiny_lm_dir)
    assert [r["gold"] for r in items] == [g for *_, g in ITEMS]
    for row, exp, (_, _, choices, _) in zip(items, expected, ITEMS, strict=True):
        np.testing.assert_allclose(row["logliks"], exp, rtol=1e-5, atol=1e-5)
        assert row["n_chars"] == [len(c) + 1 for c in choices]  # " " + choice

    # metrics from the stored log-likelihoods, computed here
    acc = np.mean([int(np.argmax(ll)) == g for ll, (*_, g) in zip(expected, ITEMS, strict=True)])
    acc_norm = np.mean(
        [
            int(np.argmax(np.array(ll) / [len(c) + 1 for c in ch])) == g
            for ll, (_, _, ch, g) in zip(expected, ITEMS, strict=True)
        ]
    )
    conf = np.mean([np.exp(max(ll)) / np.sum(np.exp(ll)) for ll in expected])
    got = result["benchmarks"]["mini-mc"]
    assert got["n_items"] == 5
    assert got["acc"] == pytest.approx(acc) and got["acc_norm"] == pytest.approx(acc_norm)
    assert got["confidence"] == pytest.approx(conf, rel=1e-5)

    # one row per metric (the limited run's rows were replaced), in the long shape
    assert sorted(r["metric"] for r in results) == ["acc", "acc_norm", "confidence"]
    by_metric = {r["metric"]: r for r in results}
    assert by_metric["confidence"]["value"] == pytest.approx(conf, rel=1e-5)
    row = by_metric["acc"]
    assert (row["run"], row["stage"], row["benchmark"], row["category"]) == (
        "mix",
        "PT",
        "mini-mc",
        "science",
    )
    assert (row["tokens"], row["step"], row["source"], row["proxy_id"], row["job_id"]) == (
        1000,
        5,
        f"proxy:{proxy['proxy_id']}",
        proxy["proxy_id"],
        job_id,
    )
    assert row["params"] == proxy["params"] and row["size"] == abbreviate(proxy["params"])

    # a rerun scores nothing again and gives the same numbers
    _, again = run_eval(ws, ["mini-mc"])
    assert again["items_scored_now"] == 0
    assert again["benchmarks"]["mini-mc"] == got
    assert len(stored(ws)[1]) == 3


def test_a_benchmark_without_choices_is_refused_by_name(mc_workspace):
    ws, _ = mc_workspace
    with pytest.raises(UsageError, match="benchmark 'mini-gsm' has no multiple-choice examples"):
        run_eval(ws, ["mini-mc", "mini-gsm"])
    items, results = stored(ws)
    assert items == [] and results == []  # refused before anything was scored
