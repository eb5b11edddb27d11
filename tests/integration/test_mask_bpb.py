"""bpb on `mask` traces is the rBridge release's number: the procedure of the release's masked-span
scorer written out here (question + clean reasoning tokenized together with no separator and no
special tokens, a bare forward pass of the model, a token counted when its character offsets
overlap a <span>, -sum log p / (sum of span UTF-8 bytes * ln 2) over the whole benchmark, byte
and word perplexity beside it) equals what `betr rbridge score` reports, on CONSTRUCTED traces
with spans at the start and at the end of the reasoning, adjacent spans, and spans cutting
through multi-byte characters; for a tokenizer that adds a BOS, the ids the release scores
(with the BOS) and the offsets it masks with agree here."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

# (id, question, reasoning with <span> tags)
TRACES = [
    ("start", "What is 2 + 3?", "<span>First</span> add 2 and 3: the sum is 5."),
    ("end", "Natalia sold 48 clips in April.", " Half of 48 is 24, <span>so 72 in total.</span>"),
    (
        "adjacent",
        "A café sells résumés.",
        "<span>Café</span><span> naïve</span> résumé, <span>x</span>",
    ),
    (
        "multibyte",
        "Prices?",
        "Cost: na<span>ïve ré</span>sumé at <span>€12 → 24 ünits</span> 日本語",
    ),
    ("whole", "", "<span>The reasoning: first compute the second month.</span>"),
]


def spans_of(tagged: str) -> tuple[str, list[tuple[int, int]]]:
    """The clean reasoning and its [start, end) spans, read independently of betr."""
    clean, spans, at = "", [], None
    for piece in re.split(r"(</?span>)", tagged):
        if piece == "<span>":
            at = len(clean)
        elif piece == "</span>":
            spans.append((at, len(clean)))
        else:
            clean += piece
    return clean, spans


def release_procedure(model_dir, bos: bool) -> dict[str, float]:
    """The release's masked-span scorer, written out: sums over every trace, then the ratios."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    total_ll, total_bytes, total_words = 0.0, 0, 0
    for _, question, tagged in TRACES:
        clean, spans = spans_of(tagged)
        text = question + clean  # no separator
        enc = tok.encode(text, add_special_tokens=False)
        ids = ([0] if bos else []) + enc.ids  # the BOS (id 0) the tokenizer adds, if it does
        shift = 1 if bos else 0
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
        for i, (s, e) in enumerate(enc.offsets):
            j = i + shift  # position of token i in ids
            if j == 0:
                continue  # nothing before it to condition on
            if any(s < b + len(question) and e > a + len(question) for a, b in spans):
                total_ll += float(logp[j - 1, ids[j]])
        total_bytes += sum(len(clean[a:b].encode("utf-8")) for a, b in spans)
        total_words += sum(len(re.split(r"\s+", clean[a:b])) for a, b in spans)
    return {
        "bpb": -total_ll / (total_bytes * math.log(2)),
        "byte_perplexity": math.exp(-total_ll / total_bytes),
        "word_perplexity": math.exp(-total_ll / total_words),
    }


def import_mask_traces(betr, tmp_path) -> None:
    bench = tmp_path / "mini.jsonl"
    bench.write_text(
        "".join(
            json.dumps({"id": i, "question": q or "-", "answer": "It is 5.\n#### 5"}) + "\n"
            for i, q, _ in TRACES
        )
    )
    assert betr("import", "bench", str(bench), "--name", "mini")[0] == 0
    traces = tmp_path / "mask.jsonl"
    traces.write_text(
        "".join(
            json.dumps({"id": i, "question": q, "reasoning": r}, ensure_ascii=False) + "\n"
            for i, q, r in TRACES
        ),
        encoding="utf-8",
    )
    code, out, err = betr(
        "rbridge", "import", str(traces), "--benchmark", "mini", "--format", "mask", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["imported"] == len(TRACES)


@pytest.mark.parametrize("bos", [False, True], ids=["no-bos", "adds-bos"])
def test_mask_bpb_is_the_release_procedure(betr, tmp_path, tiny_lm_dir, tiny_lm_dir_bos, bos):
    model_dir = tiny_lm_dir_bos if bos else tiny_lm_dir
    import_mask_traces(betr, tmp_path)
    assert betr("proxy", "add", str(model_dir), "--name", "tiny")[0] == 0
    code, out, err = betr("rbridge", "score", "--proxy", "tiny", "--benchmark", "mini", "--json")
    assert code == 0, err
    got = json.loads(out)
    want = release_procedure(model_dir, bos)
    assert got["n_mask_traces"] == len(TRACES)
    for key in ("bpb", "byte_perplexity", "word_perplexity"):
        assert got[key] == pytest.approx(want[key], rel=1e-6), key
    # betr's own prompt-conditioned per-trace mean is another number, under another name
    assert got["bpb_prompted"] is not None and got["bpb_prompted"] != pytest.approx(got["bpb"])

    # the long table holds both names; the corpus-level sum is not a mean of per-trace values
    code, out, _ = betr("results", "show", "--run", "tiny", "--benchmark", "mini", "--json")
    rows = {r["metric"]: r["value"] for r in json.loads(out)}
    assert rows["bpb"] == pytest.approx(want["bpb"], rel=1e-6)
    assert {"bpb_prompted", "byte_perplexity", "word_perplexity"} <= set(rows)
    per_trace = []
    for tid, _, _ in TRACES:
        code, out, _ = betr(
            "rbridge", "show", "--proxy", "tiny", "--benchmark", "mini", "--trace", tid, "--json"
        )
        per_trace.append(json.loads(out)["trace"]["bpb"])
    assert all(np.isfinite(per_trace))
    assert got["bpb"] != pytest.approx(float(np.mean(per_trace)), rel=1e-6)


def test_the_spans_of_these_traces_are_what_they_claim():
    clean, spans = spans_of(TRACES[0][2])
    assert spans[0][0] == 0  # at the start of the reasoning
    clean, spans = spans_of(TRACES[1][2])
    assert spans[-1][1] == len(clean)  # at the end
    clean, spans = spans_of(TRACES[2][2])
    assert spans[0][1] == spans[1][0]  # adjacent
    clean, spans = spans_of(TRACES[3][2])
    assert all(len(clean[a:b].encode()) > b - a for a, b in spans)  # multi-byte characters


def test_a_mask_score_from_before_the_release_bpb_is_scored_again(
    betr, tmp_path, tiny_lm_dir, workspace
):
    import_mask_traces(betr, tmp_path)
    assert betr("proxy", "add", str(tiny_lm_dir), "--name", "tiny")[0] == 0
    code, out, _ = betr("rbridge", "score", "--proxy", "tiny", "--benchmark", "mini", "--json")
    first = json.loads(out)
    code, out, _ = betr("rbridge", "score", "--proxy", "tiny", "--benchmark", "mini", "--json")
    assert json.loads(out)["cached"] is True
    # what a score written before migration 8 looks like: no masked-span sums per trace
    conn = workspace.connect()
    conn.execute(
        "UPDATE rbridge_trace_scores SET mask_nll = NULL, mask_bytes = NULL, "
        "mask_words = NULL, mask_tokens = NULL"
    )
    conn.close()
    code, out, err = betr("rbridge", "score", "--proxy", "tiny", "--benchmark", "mini", "--json")
    assert code == 0, err
    again = json.loads(out)
    assert again["cached"] is False and again["bpb"] == pytest.approx(first["bpb"], rel=1e-9)
