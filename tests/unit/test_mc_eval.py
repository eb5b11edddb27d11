"""Multiple-choice evaluation: the metrics on hand-computed items, and the proxy-mc-eval job on a
tiny benchmark (log-likelihoods from a direct forward pass, resume after a crash, replaced
evaluation rows, a benchmark without choices refused)."""

from __future__ import annotations

import json
import math
from contextlib import closing

import numpy as np
import pytest

from engine.analysis.mc import ACCURACIES, METRICS, item_row, mc_metrics
from engine.errors import UsageError

# -- metrics by hand ----------------------------------------------------------------------------
# four choices whose four normalisations each pick another one:
#   chars 3, 1, 8, 4; UTF-8 bytes 6, 1, 8, 4 ("é" is two bytes); " " + choice: 4, 2, 9, 5
CHOICES = ["ééé", "a", "abcdefgh", "abcd"]
LOGLIKS = [-3.4, -1.9, -7.0, -3.7]
CONT = [len(" " + c) for c in CHOICES]


def test_each_name_is_its_formula_by_hand():
    row = item_row(LOGLIKS, 3, CHOICES, CONT)
    # acc: max(-3.4, -1.9, -7.0, -3.7) -> 1
    # acc_norm (lm-eval, / len(choice)): -1.133, -1.9, -0.875, -0.925 -> 2
    # acc_bytes (lm-eval, / UTF-8 bytes): -0.567, -1.9, -0.875, -0.925 -> 0
    # acc_per_char (OLMES, / len(" " + choice)): -0.85, -0.95, -0.778, -0.74 -> 3
    assert row["pred"] == {"acc": 1, "acc_norm": 2, "acc_bytes": 0, "acc_per_char": 3}
    assert row["correct"] == {
        "acc": False,
        "acc_norm": False,
        "acc_bytes": False,
        "acc_per_char": True,
    }
    z = sum(math.exp(v) for v in LOGLIKS)
    assert row["confidence"] == pytest.approx(math.exp(-1.9) / z, rel=1e-12)
    assert row["p_gold"] == pytest.approx(math.exp(-3.7) / z, rel=1e-12)
    assert list(METRICS) == ["acc", "acc_norm", "acc_bytes", "acc_per_char", "confidence"]
    assert "lm-eval" in ACCURACIES["acc_norm"].definition
    assert "OLMES" in ACCURACIES["acc_per_char"].definition


def test_ties_take_the_first_maximum():
    row = item_row([-3.0, -3.0], 1, ["abc", "abc"], [4, 4])
    assert set(row["pred"].values()) == {0}
    assert (row["correct"]["acc"], row["confidence"], row["p_gold"]) == (False, 0.5, 0.5)


def test_means_over_items_by_hand():
    res = mc_metrics(
        [LOGLIKS, [-3.0, -3.0], [-4.0, -1.0]],
        [2, 1, 1],
        [CHOICES, ["xyz", "xyz"], ["0123456789", "ab"]],
        [CONT, [4, 4], [11, 3]],
    )
    # item 1: only acc_norm is right (2); item 2: ties -> 0, all wrong; item 3: acc right (1),
    # per char -0.4 vs -0.5 -> 0 (wrong), bytes the same; per char with the space -4/11 = -0.364
    # vs -1/3 = -0.333 -> 1 (right)
    p1 = math.exp(-1.9) / sum(math.exp(v) for v in LOGLIKS)
    p3 = 1.0 / (1.0 + math.exp(-3.0))
    assert res.n_items == 3
    assert res.values["acc"] == pytest.approx(1 / 3, rel=1e-12)
    assert res.values["acc_norm"] == pytest.approx(1 / 3, rel=1e-12)
    assert res.values["acc_bytes"] == 0.0
    assert res.values["acc_per_char"] == pytest.approx(1 / 3, rel=1e-12)
    assert res.values["confidence"] == pytest.approx((p1 + 0.5 + p3) / 3, rel=1e-12)
    assert [r["pred"]["acc_per_char"] for r in res.rows] == [3, 0, 1]


def test_a_metric_whose_lengths_an_item_lacks_is_none_not_a_subset_mean():
    res = mc_metrics([[-1.0, -2.0], [-2.0, -1.0]], [0, 1], [["a", "bb"], None], [[2, 3], [2, 3]])
    assert res.values["acc"] == 1.0 and res.values["acc_per_char"] == 1.0
    assert res.values["acc_norm"] is None and res.values["acc_bytes"] is None
    assert set(res.rows[1]["pred"]) == {"acc", "acc_per_char"}


def test_an_empty_choice_divides_as_lm_evals_numpy_does():
    # lm-eval: lls / completion_len with a length 0 -> -inf for l < 0: never the argmax
    row = item_row([-0.5, -2.0], 1, ["", "ab"], [1, 3])
    assert row["pred"]["acc_norm"] == 1 and row["pred"]["acc_bytes"] == 1


def test_no_items_and_bad_items():
    empty = mc_metrics([], [])
    assert empty.n_items == 0 and set(empty.values.values()) == {None}
    with pytest.raises(ValueError, match="gold index 3 is outside the 2 choices"):
        item_row([-1.0, -2.0], 3)
    with pytest.raises(ValueError, match="2 log-likelihoods but 1 choice texts"):
        item_row([-1.0, -2.0], 0, ["a"])
    with pytest.raises(ValueError, match="finite"):
        item_row([-1.0, float("nan")], 0)
    with pytest.raises(ValueError, match="one entry per item"):
        mc_metrics([[-1.0]], [0, 0])


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


def direct_logliks(path, prefix: list[int] | None = None) -> list[list[float]]:
    """Each choice's log-likelihood after "Question: {q}\\nAnswer:" from one full forward pass;
    the context's ids are `prefix` + the text's own ids (None: what the tokenizer adds)."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()
    out = []
    for _, q, choices, _ in ITEMS:
        text = f"Question: {q}\nAnswer:"
        if prefix is None:
            ctx = tok.encode(text).ids
        else:
            ctx = prefix + tok.encode(text, add_special_tokens=False).ids
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

    # metrics from this test's own forward pass, each formula written out here
    def accuracy(length) -> float:
        return float(
            np.mean(
                [
                    int(np.argmax(np.array(ll) / [length(c) for c in ch])) == g
                    for ll, (_, _, ch, g) in zip(expected, ITEMS, strict=True)
                ]
            )
        )

    conf = np.mean([np.exp(max(ll)) / np.sum(np.exp(ll)) for ll in expected])
    got = result["benchmarks"]["mini-mc"]
    assert got["n_items"] == 5
    assert got["acc"] == pytest.approx(accuracy(lambda c: 1))
    assert got["acc_norm"] == pytest.approx(accuracy(len))  # lm-eval: len(choice)
    assert got["acc_bytes"] == pytest.approx(accuracy(lambda c: len(c.encode("utf-8"))))
    assert got["acc_per_char"] == pytest.approx(accuracy(lambda c: len(" " + c)))  # OLMES
    assert got["confidence"] == pytest.approx(conf, rel=1e-5)
    assert result["bos"] == "auto"

    # one row per metric (the limited run's rows were replaced), in the long shape
    assert sorted(r["metric"] for r in results) == [
        "acc",
        "acc_bytes",
        "acc_norm",
        "acc_per_char",
        "confidence",
    ]
    assert {json.dumps(r["attrs"], sort_keys=True) for r in results} == {
        json.dumps({"bos": "auto", "n_items": 5}, sort_keys=True)
    }
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
        f"proxy:{proxy.id}",
        proxy.id,
        job_id,
    )
    assert row["params"] == proxy.params and row["size"] == abbreviate(proxy.params)

    # a rerun scores nothing again and gives the same numbers
    _, again = run_eval(ws, ["mini-mc"])
    assert again["items_scored_now"] == 0
    assert again["benchmarks"]["mini-mc"] == got
    assert len(stored(ws)[1]) == 5


def test_a_benchmark_without_choices_is_refused_by_name(mc_workspace):
    ws, _ = mc_workspace
    with pytest.raises(UsageError, match="benchmark 'mini-gsm' has no multiple-choice examples"):
        run_eval(ws, ["mini-mc", "mini-gsm"])
    items, results = stored(ws)
    assert items == [] and results == []  # refused before anything was scored


@pytest.mark.parametrize("with_bos", [False, True], ids=["neox-style", "adds-bos"])
def test_bos_conventions_score_what_they_say_and_are_recorded(
    workspace, tmp_path, tiny_lm_dir, tiny_lm_dir_bos, with_bos
):
    from engine.api.imports import import_benchmark_files
    from engine.api.proxies import add_proxy

    path = tiny_lm_dir_bos if with_bos else tiny_lm_dir
    mc, _ = write_benchmarks(tmp_path)
    import_benchmark_files(workspace, [str(mc)], "mini-mc", category="science")
    add_proxy(workspace, str(path), name="tiny", dataset="mix")
    bos_id = 0  # config.json bos_token_id of tests/tiny_lm.py
    # auto: what the tokenizer.json adds (a BOS only for the BOS tokenizer)
    for mode, prefix in (
        ("auto", [bos_id] if with_bos else []),
        ("never", []),
        ("always", [bos_id]),
        ("auto", [bos_id] if with_bos else []),
    ):
        _, result = run_eval(workspace, ["mini-mc"], bos=mode)
        assert result["bos"] == mode
        assert result["items_scored_now"] == 5  # items scored under another convention: again
        items, rows = stored(workspace)
        assert {r["bos"] for r in items} == {mode}
        for row, exp in zip(items, direct_logliks(path, prefix), strict=True):
            np.testing.assert_allclose(row["logliks"], exp, rtol=1e-5, atol=1e-5)
        assert {r["attrs"]["bos"] for r in rows} == {mode}
    _, again = run_eval(workspace, ["mini-mc"], bos="auto")
    assert again["items_scored_now"] == 0


def test_bos_always_without_a_bos_token_is_refused(mc_workspace, tiny_lm_dir, tmp_path):
    import shutil

    from engine.api import jobs
    from engine.api.proxies import add_proxy, mc_eval_spec

    ws, _ = mc_workspace
    copy = tmp_path / "no-bos"
    shutil.copytree(tiny_lm_dir, copy)
    cfg = json.loads((copy / "config.json").read_text())
    cfg.pop("bos_token_id")
    (copy / "config.json").write_text(json.dumps(cfg))
    add_proxy(ws, str(copy), name="no-bos")
    job_id = jobs.queue(ws, mc_eval_spec(ws, "no-bos", ["mini-mc"], device="cpu", bos="always"))
    with pytest.raises(UsageError, match="no bos_token_id"):
        jobs.run_here(ws, job_id)
    with pytest.raises(UsageError, match="--bos must be one of auto, always, never"):
        mc_eval_spec(ws, "no-bos", ["mini-mc"], bos="sometimes").validate()
