"""rBridge end to end through the CLI: import traces, register a proxy, score, show; the
numbers equal an independent implementation of Algorithm 1 written here (direct forward pass
of the model, letter probabilities and MinMax by hand); caching, resume and bad input.

The traces are constructed fixtures (no real frontier log-probabilities exist offline): token
strings and log-probabilities written by this test, labelled as such.
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

PROMPT = "Question: {x}\nAnswer: "
QUESTIONS = [
    ("q1", "Natalia sold 48 clips in April and half as many in May. How many in total?", "72"),
    ("q2", "Weng earns $12 an hour. How much for 50 minutes?", "10"),
    ("q3", "A café sells 3 résumés for 9 dollars. Price of one?", "3"),
]
# constructed frontier tokens (strings that concatenate to R) with log-probabilities
TRACES = [
    (
        "q1",
        [("In May", -0.1), (" she sold", -0.5), (" 48 / 2 = 24.", -2.0), ("\nTotal 72.", -0.01)],
    ),
    ("q2", [("12 per", -1.2), (" hour", -0.3), (", 50/60 of", -0.7), (" it: 10", -0.05)]),
    ("q3", [("9 / 3", -0.4), (" = 3", -0.4)]),  # every letter the same p: max == min
]


@pytest.fixture()
def setup(betr, tmp_path, tiny_lm_dir):
    bench = tmp_path / "mini.jsonl"
    bench.write_text(
        "".join(
            json.dumps({"id": i, "question": q, "answer": f"So the answer is {a}. #### {a}"}) + "\n"
            for i, q, a in QUESTIONS
        )
    )
    code, _, err = betr("import", "bench", str(bench), "--name", "mini")
    assert code == 0, err
    traces = tmp_path / "traces.jsonl"
    qs = {i: q for i, q, _ in QUESTIONS}
    traces.write_text(
        "".join(
            json.dumps(
                {
                    "id": tid,
                    "benchmark": "mini",
                    "question": qs[tid],
                    "reasoning": "".join(t for t, _ in toks),
                    "tokens": [[t, lp] for t, lp in toks],
                }
            )
            + "\n"
            for tid, toks in TRACES
        )
    )
    code, out, err = betr(
        "proxy", "add", str(tiny_lm_dir), "--name", "tiny", "--tokens", "1M", "--json"
    )
    assert code == 0, err
    assert set(json.loads(out)) >= {"proxy_id"}
    return traces


def reference(model_dir, question: str, toks, gold: str, *, lo=None, hi=None):
    """Algorithm 1 by hand: letter p, proxy-token weights, MinMax, NLL by a direct forward pass."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    reasoning = "".join(t for t, _ in toks)
    letters = np.concatenate([np.full(len(t), math.exp(lp)) for t, lp in toks])
    enc = tok.encode(reasoning, add_special_tokens=False)
    prompt_ids = tok.encode(PROMPT.replace("{x}", question), add_special_tokens=True).ids

    def nll_of(target_ids):
        ids = torch.tensor([prompt_ids + target_ids])
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0].double(), -1)
        pos = range(len(prompt_ids) - 1, len(prompt_ids) + len(target_ids) - 1)
        return np.array([-float(logp[p, t]) for p, t in zip(pos, target_ids, strict=True)])

    nll = nll_of(enc.ids)
    w = np.array([letters[s:e].mean() for s, e in enc.offsets])
    lo = w.min() if lo is None else lo
    hi = w.max() if hi is None else hi
    u = np.ones_like(w) if hi == lo else (w - lo) / (hi - lo)
    gold_nll = nll_of(tok.encode(gold, add_special_tokens=False).ids)
    return {
        "score": float(np.mean(nll * u)),
        "nll_rphi": float(nll.mean()),
        "nll_gold": float(gold_nll.mean()),
        "w": w,
        "u": u,
        "nll": nll,
        "offsets": enc.offsets,
        "bpb": float(nll.sum() / (len(reasoning.encode()) * math.log(2))),
    }


def test_score_equals_an_independent_algorithm_1(betr, setup, tiny_lm_dir):
    code, out, err = betr(
        "rbridge", "import", str(setup), "--benchmark", "mini", "--format", "plain", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["imported"] == 3
    code, out, err = betr("rbridge", "score", "--proxy", "tiny", "--benchmark", "mini", "--json")
    assert code == 0, err
    bench = json.loads(out)
    qs = {i: (q, f"So the answer is {a}. #### {a}") for i, q, a in QUESTIONS}
    refs = {tid: reference(tiny_lm_dir, qs[tid][0], toks, qs[tid][1]) for tid, toks in TRACES}
    assert bench["rbridge"] == pytest.approx(np.mean([r["score"] for r in refs.values()]), rel=1e-5)
    assert bench["nll_rphi"] == pytest.approx(
        np.mean([r["nll_rphi"] for r in refs.values()]), rel=1e-5
    )
    assert bench["nll_gold"] == pytest.approx(
        np.mean([r["nll_gold"] for r in refs.values()]), rel=1e-5
    )
    assert bench["bpb_prompted"] == pytest.approx(
        np.mean([r["bpb"] for r in refs.values()]), rel=1e-5
    )
    assert bench["bpb"] is None and bench["n_mask_traces"] == 0  # no mask traces here
    assert bench["n_traces"] == 3
    assert bench["flags"] == {"flat-weights": 1}
    for tid, _ in TRACES:
        code, out, err = betr(
            "rbridge", "show", "--proxy", "tiny", "--benchmark", "mini", "--trace", tid, "--json"
        )
        assert code == 0, err
        t = json.loads(out)["trace"]
        ref = refs[tid]
        assert t["score"] == pytest.approx(ref["score"], rel=1e-5)
        assert t["bpb_prompted"] == pytest.approx(ref["bpb"], rel=1e-5) and t["bpb"] is None
        rows = t["tokens"]
        assert [(r["start"], r["end"]) for r in rows] == [tuple(o) for o in ref["offsets"]]
        assert set(rows[0]) >= {"token", "start", "end", "weight", "weight_minmax", "nll"}
        np.testing.assert_allclose([r["weight"] for r in rows], ref["w"], rtol=1e-6)
        np.testing.assert_allclose(
            [r["weight_minmax"] for r in rows], ref["u"], rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose([r["nll"] for r in rows], ref["nll"], rtol=1e-4)
        assert "".join(r["token"] for r in rows) == "".join(tok for tok, _ in dict(TRACES)[tid])


def test_benchmark_minmax_scope_and_the_cache(betr, setup, tiny_lm_dir):
    betr("rbridge", "import", str(setup), "--benchmark", "mini", "--format", "plain")
    code, out, err = betr(
        "rbridge",
        "score",
        "--proxy",
        "tiny",
        "--benchmark",
        "mini",
        "--minmax",
        "benchmark",
        "--json",
    )
    assert code == 0, err
    got = json.loads(out)
    assert got["minmax"] == "benchmark" and got["cached"] is False
    qs = {i: (q, f"So the answer is {a}. #### {a}") for i, q, a in QUESTIONS}
    per = {tid: reference(tiny_lm_dir, qs[tid][0], toks, qs[tid][1]) for tid, toks in TRACES}
    allw = np.concatenate([r["w"] for r in per.values()])
    refs = [
        reference(tiny_lm_dir, qs[tid][0], toks, qs[tid][1], lo=allw.min(), hi=allw.max())
        for tid, toks in TRACES
    ]
    assert got["rbridge"] == pytest.approx(np.mean([r["score"] for r in refs]), rel=1e-5)
    assert got["flags"] == {}  # over the benchmark the constant trace is not flat
    code, out, err = betr(
        "rbridge",
        "score",
        "--proxy",
        "tiny",
        "--benchmark",
        "mini",
        "--minmax",
        "benchmark",
        "--json",
    )
    assert code == 0 and json.loads(out)["cached"] is True
    assert json.loads(out)["rbridge"] == got["rbridge"]
    code, out, _ = betr("jobs", "list", "--json")
    assert len([j for j in json.loads(out) if j["kind"] == "rbridge-score"]) == 1
    code, out, _ = betr("proxy", "results", "--json")
    metrics = {r["metric"]: r["value"] for r in json.loads(out)}
    assert metrics["rbridge_benchmark"] == pytest.approx(got["rbridge"])
    assert set(metrics) >= {"nll_rphi", "nll_gold", "bpb_prompted"}
    assert "bpb" not in metrics  # the release's bpb is for mask traces only


def test_an_interrupted_score_resumes_to_the_same_numbers(betr, setup, workspace, monkeypatch):
    from engine.api import jobs
    from engine.api.rbridge import plan_score, show
    from engine.jobs.kinds import rbridge as kind
    from engine.store import rbridge as store_rb

    betr("rbridge", "import", str(setup), "--benchmark", "mini", "--format", "plain")
    monkeypatch.setattr(kind, "CHUNK_TRACES", 1)
    real = store_rb.write_trace_scores
    calls = {"n": 0}

    def dies_on_second_chunk(conn, score_id, rows):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("simulated crash")
        return real(conn, score_id, rows)

    monkeypatch.setattr(store_rb, "write_trace_scores", dies_on_second_chunk)
    plan = plan_score(workspace, "tiny", "mini")
    job_id = jobs.queue(workspace, plan.spec)
    with pytest.raises(RuntimeError):
        jobs.run_here(workspace, job_id)
    code, out, _ = betr("rbridge", "scores", "--json")
    (row,) = json.loads(out)
    assert row["state"] == "pending" and row["rbridge"] is None  # never half a result marked done
    monkeypatch.setattr(store_rb, "write_trace_scores", real)
    jobs.resume(workspace, job_id, detach=False)
    jobs.run_here(workspace, job_id)
    resumed = show(workspace, "tiny", "mini")
    code, out, err = betr(
        "rbridge", "score", "--proxy", "tiny", "--benchmark", "mini", "--rescore", "--json"
    )
    assert code == 0, err
    fresh = json.loads(out)
    for key in ("rbridge", "nll_rphi", "nll_gold", "bpb_prompted"):
        assert resumed[key] == pytest.approx(fresh[key], rel=1e-9)


def snapshot(workspace):
    conn = workspace.connect(readonly=True)
    try:
        return {
            t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1")]
            for t in ("traces", "proxies", "rbridge_scores", "rbridge_trace_scores")
        }
    finally:
        conn.close()


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


GOOD = {
    "id": "a",
    "benchmark": "mini",
    "question": "Q?",
    "reasoning": "ab cd",
    "tokens": [["ab", -0.1], [" cd", -0.2]],
}


@pytest.mark.parametrize(
    ("record", "needle"),
    [
        ({**GOOD, "tokens": [["ab", -0.1], [" cx", -0.2]]}, "differ"),
        ({**GOOD, "tokens": [["ab", -0.1]]}, "truncated"),
        ({**GOOD, "tokens": [["ab", 0.5], [" cd", -0.2]]}, "positive"),
        ({**GOOD, "tokens": [["ab", float("nan")], [" cd", -0.2]]}, "nan"),
        ({**GOOD, "benchmark": "other"}, "other"),
    ],
)
def test_bad_traces_change_nothing(betr, setup, workspace, tmp_path, record, needle):
    ok = write_jsonl(tmp_path / "ok.jsonl", [{**GOOD, "id": "first"}])
    bad = write_jsonl(tmp_path / "bad.jsonl", [record])
    before = snapshot(workspace)
    code, _, err = betr(
        "rbridge", "import", str(ok), str(bad), "--benchmark", "mini", "--format", "plain"
    )
    assert code == 2, err
    assert "bad.jsonl" in err and needle in err.lower()
    assert "fix" in err or "import it with" in err
    assert snapshot(workspace) == before


def test_unknown_benchmark_and_bad_proxy_directories(betr, setup, tmp_path, tiny_lm_dir, workspace):
    code, _, err = betr("rbridge", "import", str(setup), "--benchmark", "nope", "--format", "plain")
    assert code == 2 and "unknown benchmark 'nope'" in err and "mini" in err
    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_lm_dir, pickled)
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")
    before = snapshot(workspace)
    code, _, err = betr("proxy", "add", str(pickled))
    assert code == 2 and "pickled" in err and "safetensors" in err
    notok = tmp_path / "notok"
    shutil.copytree(tiny_lm_dir, notok)
    (notok / "tokenizer.json").unlink()
    code, _, err = betr("proxy", "add", str(notok))
    assert code == 2 and "tokenizer.json" in err and "offsets" in err
    assert snapshot(workspace) == before
    code, _, err = betr("rbridge", "score", "--proxy", "nope", "--benchmark", "mini")
    assert code == 2 and "no proxy 'nope'" in err


def test_traces_without_probabilities_score_as_plain_nll_and_say_so(
    betr, setup, workspace, tmp_path
):
    plain = write_jsonl(
        tmp_path / "np.jsonl",
        [{"id": "x", "benchmark": "mini", "question": "Q?", "reasoning": "It is 4."}],
    )
    code, _, err = betr("rbridge", "import", str(plain), "--benchmark", "mini", "--format", "plain")
    assert code == 0 and "teacher-force" in err
    code, out, err = betr("rbridge", "score", "--proxy", "tiny", "--benchmark", "mini", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["flags"] == {"no-probs": 1}
    assert got["rbridge"] == pytest.approx(got["nll_rphi"])  # u = 1: the plain NLL


def test_the_loop_on_one_machine_train_then_score_and_evaluate_each_checkpoint(
    betr, setup, tmp_path, olmo_wheel
):
    """select data -> train a tiny proxy -> rBridge and multiple choice on every checkpoint."""
    from tests.conftest import write_docs_jsonl

    docs = write_docs_jsonl(tmp_path / "docs.jsonl", 80, seed=3, words=40)
    assert betr("import", "docs", str(docs), "--corpus", "web")[0] == 0
    code, out, err = betr(
        "proxy", "train", "--corpus", "web", "--params", "150k", "--tokens", "8192",
        "--checkpoints", "2", "--tokenizer", "train:400", "--seq-len", "64", "--batch-size", "8",
        "--device", "cpu", "--json",
    )  # fmt: skip
    assert code == 0, err
    trained = json.loads(out)
    assert len(trained["checkpoints"]) == 2
    code, out, _ = betr("proxy", "list", "--json")
    ckpts = [p for p in json.loads(out) if p["origin"] == "trained"]
    assert [p["tokens"] for p in ckpts] == [4096, 8192]
    betr("rbridge", "import", str(setup), "--benchmark", "mini", "--format", "plain")
    mc = tmp_path / "mc.jsonl"
    mc.write_text(
        "".join(
            json.dumps(
                {"id": f"m{i}", "query": f"Is {i} even?", "choices": ["yes", "no"], "gold": i % 2}
            )
            + "\n"
            for i in range(6)
        )
    )
    assert betr("import", "bench", str(mc), "--name", "parity")[0] == 0
    for p in ckpts:
        code, out, err = betr(
            "rbridge", "score", "--proxy", p["name"], "--benchmark", "mini", "--json"
        )
        assert code == 0, err
        assert math.isfinite(json.loads(out)["rbridge"])
        code, out, err = betr(
            "proxy", "eval", "--proxy", p["name"], "--benchmark", "parity", "--json"
        )
        assert code == 0, err
        res = json.loads(out)["benchmarks"]["parity"]
        assert res["n_items"] == 6 and 0 <= res["acc"] <= 1 and 0.5 <= res["confidence"] <= 1
    code, out, _ = betr("proxy", "results", "--benchmark", "parity", "--json")
    rows = json.loads(out)
    assert {(r["tokens"], r["metric"]) for r in rows} == {
        (t, m)
        for t in (4096, 8192)
        for m in ("acc", "acc_norm", "acc_bytes", "acc_per_char", "confidence")
    }
