"""rBridge on real traces: GPT-4o's chain-of-thought on MMLU-Pro computer science
(../shared/data/reasoning_traces/mmlu_pro_gpt4o; no log-probabilities were published), imported
in the release's JSON-array layout, given letter probabilities by teacher forcing under a local
model, then scored by two proxies whose tokenizers split the text differently."""

from __future__ import annotations

import json

import numpy as np
import pytest

N_TRACES = 30


@pytest.fixture()
def traces_file(shared_data, tmp_path):
    src = shared_data / "reasoning_traces" / "mmlu_pro_gpt4o" / "computer_science_result.json"
    if not src.exists():
        pytest.skip(f"{src} is absent")
    items = json.loads(src.read_text())[:N_TRACES]
    out = tmp_path / "cs_result.json"
    out.write_text(json.dumps(items))  # the same records, the first N_TRACES of them
    return out, items


def test_real_traces_teacher_forced_and_scored_by_two_tokenizers(
    betr, traces_file, workspace, tmp_path
):
    from engine.api.rbridge import trace_list, trace_tokens
    from engine.store import traces as store_traces
    from tests.tiny_lm import make_tiny_lm_dir

    path, items = traces_file
    code, _, err = betr(
        "import",
        "bench",
        str(path),
        "--name",
        "mmlu-pro-cs",
        "--field-map",
        "question=question,choices=options,gold=answer_index,id=question_id",
    )
    assert code == 0, err
    code, out, err = betr(
        "rbridge",
        "import",
        str(path),
        "--benchmark",
        "mmlu-pro-cs",
        "--format",
        "rbridge",
        "--field-map",
        "id=question_id,completion=response",
        "--json",
    )
    assert code == 0, err
    got = json.loads(out)
    assert (got["imported"], got["with_probs"], got["gold_from_benchmark"]) == (
        N_TRACES,
        0,
        N_TRACES,
    )

    frontier = make_tiny_lm_dir(tmp_path / "frontier", seed=5, max_positions=4096)
    code, out, err = betr(
        "rbridge", "teacher-force", "--benchmark", "mmlu-pro-cs", "--model", str(frontier), "--json"
    )
    assert code == 0, err
    forced = json.loads(out)
    # a trace longer than the frontier's context is reported, never cut: one such here (~12k
    # byte-level tokens)
    assert forced["teacher_forced"] + forced["failed"] == N_TRACES and forced["failed"] <= 2
    assert all("positions" in f["reason"] for f in forced["failures"])
    conn = workspace.connect(readonly=True)
    try:
        bench_id = conn.execute("SELECT id FROM benchmarks WHERE name = 'mmlu-pro-cs'").fetchone()[
            0
        ]
        rows = store_traces.trace_rows(conn, bench_id)
    finally:
        conn.close()
    by_id = {str(it["question_id"]): it for it in items}
    rows = [r for r in rows if r["letter_probs"] is not None]
    assert len(rows) == forced["teacher_forced"]
    for r in rows:
        assert r["reasoning"] == by_id[r["ext_id"]]["response"]
        p = np.frombuffer(r["letter_probs"], dtype=np.float32)
        assert len(p) == len(r["reasoning"]) and np.all((p > 0) & (p <= 1))
        assert r["prob_source"].startswith("teacher:")

    proxy_a = make_tiny_lm_dir(tmp_path / "a", seed=1, vocab_size=300, max_positions=4096)
    proxy_b = make_tiny_lm_dir(tmp_path / "b", seed=2, vocab_size=420, bos=True, max_positions=4096)
    scores = {}
    for name, d in (("a", proxy_a), ("b", proxy_b)):
        code, _, err = betr("proxy", "add", str(d), "--name", name)
        assert code == 0, err
        code, out, err = betr(
            "rbridge", "score", "--proxy", name, "--benchmark", "mmlu-pro-cs", "--json"
        )
        assert code == 0, err
        scores[name] = json.loads(out)
        assert scores[name]["n_traces"] == N_TRACES
        assert scores[name]["flags"] == ({"no-probs": forced["failed"]} if forced["failed"] else {})
        assert np.isfinite(scores[name]["rbridge"]) and scores[name]["rbridge"] > 0

    # tokenizer-agnostic: each proxy's token weights are the means of the same letter
    # probabilities over its own (different) spans
    first = rows[0]
    letters = np.frombuffer(first["letter_probs"], dtype=np.float32).astype(np.float64)
    spans = {}
    for name in ("a", "b"):
        score_id = scores[name]["score_id"]
        trace_id = next(
            t.trace_id for t in trace_list(workspace, score_id) if t.ext_id == first["ext_id"]
        )
        a = trace_tokens(workspace, score_id, trace_id).arrays
        keep = a["ends"] > a["starts"]
        expect = [
            letters[s:e].mean() for s, e in zip(a["starts"][keep], a["ends"][keep], strict=True)
        ]
        np.testing.assert_allclose(a["weight"][keep], expect, rtol=1e-6)
        spans[name] = list(zip(a["starts"], a["ends"], strict=True))
    assert spans["a"] != spans["b"]
