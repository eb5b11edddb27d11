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
from contextlib import closing

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
    # never half a result marked done, and never "pending" for good: the row says its job failed
    assert row["state"] == "failed" and row["rbridge"] is None
    assert "simulated crash" in row["error"]
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
        assert getattr(resumed, key) == pytest.approx(fresh[key], rel=1e-9)


@pytest.mark.slow
def test_kill_9_during_a_rescore_leaves_the_old_score_complete_and_shown(
    betr, setup, workspace, tmp_path
):
    """`--rescore --detach`, then kill -9 after its first chunk: the finished score, its
    per-trace rows and its rows in `proxy results` are exactly as before; the rescore reads
    as interrupted beside it; resumed, it swaps in (issue 19.10)."""
    import os
    import signal

    from tests.helpers import job_state, wait_for

    n = 160
    many = tmp_path / "many.jsonl"
    words = "the proxy reads each letter of this reasoning and weighs it by the frontier ".split()
    many.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"t{i}",
                    "benchmark": "mini",
                    "question": f"Q{i}?",
                    "reasoning": " ".join(words[(i + k) % len(words)] for k in range(40)),
                }
            )
            + "\n"
            for i in range(n)
        )
    )
    code, _, err = betr("rbridge", "import", str(many), "--benchmark", "mini", "--format", "plain")
    assert code == 0, err
    code, out, err = betr("rbridge", "score", "--proxy", "tiny", "--benchmark", "mini", "--json")
    assert code == 0, err
    old = json.loads(out)

    def seen():
        shown = json.loads(
            betr("rbridge", "show", "--proxy", "tiny", "--benchmark", "mini", "--json")[1]
        )
        results = json.loads(betr("proxy", "results", "--json")[1])
        with closing(workspace.connect(readonly=True)) as conn:
            rows = conn.execute(
                "SELECT trace_id, score, tokens FROM rbridge_trace_scores WHERE score_id = ? "
                "ORDER BY trace_id",
                (old["score_id"],),
            ).fetchall()
        return shown, [(r["metric"], r["value"]) for r in results], [tuple(r) for r in rows]

    before = seen()
    assert len(before[2]) == n and before[0]["rbridge"] == old["rbridge"]
    code, out, err = betr(
        "rbridge",
        "score",
        "--proxy",
        "tiny",
        "--benchmark",
        "mini",
        "--rescore",
        "--detach",
        "--json",
    )
    assert code == 0, err
    job_id = json.loads(out)["job_id"]
    job = wait_for(
        lambda: (j := job_state(workspace, job_id)).state == "running" and j.done > 0 and j,
        120,
        "the rescore to commit its first chunk",
        interval=0.01,
    )
    assert job.done < n, "it finished before it could be killed"
    os.killpg(job.pgid, signal.SIGKILL)
    wait_for(lambda: job_state(workspace, job_id).state == "interrupted", 15, "interrupted")
    assert seen() == before
    states = {r["score_id"]: r["state"] for r in json.loads(betr("rbridge", "scores", "--json")[1])}
    assert states[old["score_id"]] == "done"
    assert sorted(states.values()) == ["done", "rescore interrupted"]
    # resumed, the rescore swaps in: one finished score with the same numbers (same model)
    code, _, err = betr("jobs", "resume", str(job_id))
    assert code == 0, err
    (row,) = json.loads(betr("rbridge", "scores", "--json")[1])
    assert row["state"] == "done" and row["score_id"] != old["score_id"]
    assert row["rbridge"] == pytest.approx(old["rbridge"], rel=1e-9)


def test_a_refused_score_command_writes_nothing(betr, setup, workspace):
    """--batch-size 0, an unknown --device or --minmax: exit 2 and no score row (issue 19.10)."""
    betr("rbridge", "import", str(setup), "--benchmark", "mini", "--format", "plain")
    before = snapshot(workspace)
    for extra, needle in (
        (("--batch-size", "0"), "--batch-size must be at least 1"),
        (("--device", "tpu"), "unknown --device 'tpu'"),
        (("--prompt", "no placeholder"), "{x}"),
    ):
        code, _, err = betr("rbridge", "score", "--proxy", "tiny", "--benchmark", "mini", *extra)
        assert code == 2 and needle in err, (extra, err)
        assert snapshot(workspace) == before, extra


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


def bad_proxy_dirs(root, good) -> dict[str, tuple]:
    """Directories that are not the causal LM they claim (issue 19.5): name -> (path, what the
    refusal says)."""
    import os

    from transformers import BertConfig, BertForMaskedLM, T5Config

    def copy(name):
        d = root / name
        shutil.copytree(good, d)
        return d

    def edit_config(d, **changes):
        cfg = json.loads((d / "config.json").read_text())
        cfg.update(changes)
        (d / "config.json").write_text(json.dumps(cfg))

    out = {}
    bert = root / "bert"
    BertForMaskedLM(
        BertConfig(
            vocab_size=300,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
        )
    ).save_pretrained(bert)
    shutil.copy(good / "tokenizer.json", bert)
    out["bert"] = (bert, "BertForMaskedLM is not a causal LM")
    d = copy("bert-config-neox-weights")
    (d / "config.json").write_text(
        json.dumps(
            {
                **BertConfig(vocab_size=300, hidden_size=32, num_attention_heads=4).to_dict(),
                "architectures": ["BertLMHeadModel"],
                "is_decoder": True,
            }
        )
    )
    out["bert-config-neox-weights"] = (d, "weight(s) missing (transformers would initialise")
    d = copy("truncated")
    raw = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(raw[: len(raw) // 2])
    out["truncated"] = (d, "truncated")
    d = copy("t5")
    (d / "config.json").write_text(T5Config(vocab_size=300).to_json_string())
    out["t5"] = (d, "'t5' is not a causal LM architecture")
    d = copy("auto-map")
    edit_config(d, auto_map={"AutoModelForCausalLM": "modeling_evil.Evil"})
    out["auto-map"] = (d, "field 'auto_map'")
    d = copy("tokenizer-not-json")
    (d / "tokenizer.json").write_text("not json")
    out["tokenizer-not-json"] = (d, "the tokenizer does not load")
    d = copy("shapes")
    edit_config(d, intermediate_size=96)
    out["shapes"] = (d, "of another shape than the config makes them")
    d = copy("small-vocab")
    edit_config(d, vocab_size=200)
    out["small-vocab"] = (d, "gpt_neox.embed_in.weight ([300, 32] in the file, [200, 32]")
    d = copy("stray")
    shutil.copy(d / "model.safetensors", d / "other.safetensors")
    out["stray"] = (d, "other.safetensors is not part of the model")
    d = copy("only-other")
    (d / "model.safetensors").rename(d / "other.safetensors")
    out["only-other"] = (d, "no model.safetensors")
    d = copy("symlink-loop")
    (d / "model.safetensors").unlink()
    os.symlink("model.safetensors", d / "model.safetensors")
    out["symlink-loop"] = (d, "Too many levels of symbolic links")
    os.symlink("loop-dir", root / "loop-dir")
    out["loop-dir"] = (root / "loop-dir", "is not a directory")
    return out


def test_every_proxy_that_cannot_be_what_it_claims_is_refused_at_add(
    betr, tmp_path, tiny_lm_dir, workspace
):
    """Each bad directory of issue 19.5 exits 2 with the reason at `proxy add` and registers
    nothing; the good one still registers."""
    before = snapshot(workspace)
    for name, (path, needle) in bad_proxy_dirs(tmp_path / "bad", tiny_lm_dir).items():
        code, _, err = betr("proxy", "add", str(path), "--name", name)
        assert code == 2, (name, err)
        assert needle in err and "Traceback" not in err, (name, err)
        assert snapshot(workspace) == before, name
    code, _, err = betr("proxy", "add", str(tiny_lm_dir), "--name", "good")
    assert code == 0, err


def test_a_proxy_registered_before_the_checks_fails_its_score_job_cleanly(
    betr, setup, workspace, tmp_path, tiny_lm_dir
):
    """A mismatched proxy that slipped into the workspace (registered by an older betr) is
    refused when its job loads it: exit 2 with the reason, never a score from random weights,
    and its score row says failed."""
    from engine.rbridge.proxy_dir import check_model_dir, model_sha256
    from engine.store import proxies
    from engine.store.db import transaction

    betr("rbridge", "import", str(setup), "--benchmark", "mini", "--format", "plain")
    d = bad_proxy_dirs(tmp_path / "bad", tiny_lm_dir)["bert-config-neox-weights"][0]
    with closing(workspace.connect()) as conn, transaction(conn):
        proxies.add_proxy(
            conn, name="old", path=str(d.resolve()), sha256=model_sha256(check_model_dir(d))
        )
    code, _, err = betr("rbridge", "score", "--proxy", "old", "--benchmark", "mini")
    assert code == 2 and "the weights do not match the config" in err, err
    rows = betr("rbridge", "scores", "--json")[1]
    assert [r["state"] for r in json.loads(rows) if r["proxy"] == "old"] == ["failed"]
    # the rBridge screen's table says failed too, never "scoring…" for good
    from engine.api.rbridge_views import proxy_scores
    from tui.screens.rbridge.proxytable import state_text

    (row,) = [r for r in proxy_scores(workspace, "mini") if r.proxy == "old"]
    assert (row.pending, row.stopped) == ([], "failed")
    assert state_text(row).plain == "failed (S)"


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


@pytest.mark.slow
def test_the_loop_on_one_machine_train_then_score_and_evaluate_each_checkpoint(
    betr, setup, tmp_path, olmo_wheel
):
    """select data -> train a tiny proxy -> rBridge and multiple choice on every checkpoint."""
    from tests.helpers import write_docs_jsonl

    docs = write_docs_jsonl(tmp_path / "docs.jsonl", 80, seed=3, words=40)
    assert betr("import", "docs", str(docs), "--corpus", "web")[0] == 0
    code, out, err = betr(
        "proxy",
        "train",
        "--corpus",
        "web",
        "--params",
        "150k",
        "--tokens",
        "8192",
        "--checkpoints",
        "2",
        "--tokenizer",
        "train:400",
        "--seq-len",
        "64",
        "--batch-size",
        "8",
        "--device",
        "cpu",
        "--json",
    )
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
