"""The local frontier (engine/ops/frontier.py, engine/jobs/kinds/frontier.py): teacher-forced
letter probabilities against a direct forward pass, greedy generation against a direct forward
pass, JSON parsing with one retry, and both jobs through the job runner."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from engine.ops.frontier import (
    DEFAULT_PROMPT,
    RETRY_INSTRUCTION,
    Generate,
    TeacherForce,
    char_owners,
    token_pieces,
    untrimmed_tokenizer,
)

torch = pytest.importorskip("torch")


def tokenizer_of(model_dir: Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(model_dir / "tokenizer.json"))


def direct_logprobs(model_dir: Path, ids: list[int]) -> np.ndarray:
    """log p(ids[j] | ids[:j]) for j >= 1 by one plain forward pass (float64)."""
    from transformers import GPTNeoXForCausalLM

    model = GPTNeoXForCausalLM.from_pretrained(str(model_dir)).eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    lp = torch.log_softmax(logits, dim=-1)
    return np.array([lp[j - 1, ids[j]].item() for j in range(1, len(ids))])


# -- token pieces and character owners -------------------------------------------------------------
def test_token_pieces_give_split_characters_to_the_completing_token(tiny_lm_dir):
    tok = tokenizer_of(tiny_lm_dir)
    text = "café  \n x 日本"
    ids = tok.encode(text, add_special_tokens=False).ids
    pieces = token_pieces(tok, ids)
    # 'é' is one merged token; 日 and 本 are three byte tokens each in this tiny vocabulary
    assert pieces == ["c", "a", "f", "é", " ", " ", "\n", " ", "x", " ", "", "", "日", "", "", "本"]
    assert "".join(pieces) == tok.decode(ids) == text
    # cut inside a character: the incomplete bytes still come out, on the last token
    assert "".join(token_pieces(tok, ids[:-1])) == tok.decode(ids[:-1])


def test_char_owners_with_trimmed_offsets_and_with_a_normalizer(tiny_lm_dir):
    from tokenizers import normalizers, processors

    tok = tokenizer_of(tiny_lm_dir)
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    text = "She sold  clips.\n Café"
    enc = tok.encode(text, add_special_tokens=False)
    assert enc.tokens == ["S", "he", "Ġsold", "Ġ", "Ġclips", ".", "Ċ", "Ġ", "C", "a", "f", "Ã©"]
    assert enc.offsets[3] == (9, 9)  # trimmed: the whitespace-only token covers nothing
    by_hand = [0, 1, 1, 2, 2, 2, 2, 2, 3, 4, 4, 4, 4, 4, 4, 5, 6, 7, 8, 9, 10, 11]
    assert char_owners(tok, text, enc.ids, enc.offsets).tolist() == by_hand
    # a lowercasing normalizer: the pieces no longer spell the text, untrimmed offsets decide
    tok.normalizer = normalizers.Lowercase()
    loose = untrimmed_tokenizer(tok)
    text = "She SOLD  clips.\n Café"
    enc = loose.encode(text, add_special_tokens=False)
    assert tok.encode(text, add_special_tokens=False).ids == enc.ids
    assert enc.tokens[7] == "Ġc" and enc.offsets[7] == (17, 19)
    by_hand = [0, 1, 1, 2, 2, 2, 2, 2, 3, 4, 4, 4, 4, 4, 4, 5, 6, 7, 7, 8, 9, 10]
    assert char_owners(tok, text, enc.ids, enc.offsets).tolist() == by_hand


# -- teacher forcing ------------------------------------------------------------------------------
@pytest.mark.parametrize("fixture", ["tiny_lm_dir", "tiny_lm_dir_bos"])
def test_teacher_force_letter_probs_equal_a_direct_forward_pass(fixture, request):
    model_dir = request.getfixturevalue(fixture)
    tok = tokenizer_of(model_dir)
    op = TeacherForce(model_dir, device="cpu", batch_size=4)
    op.setup()
    questions = ["What is café?", "Why?", "How many clips did Natalia sell?"]
    reasonings = ["café  \n x", "日本 x", ""]
    out = op({"question": questions, "reasoning": reasonings})
    assert out["error"] == [None, None, None]
    # character -> token by hand (the tokens checked first)
    tokens = {
        "café  \n x": (["c", "a", "f", "Ã©", "Ġ", "Ġ", "Ċ", "Ġ", "x"], [0, 1, 2, 3, 4, 5, 6, 7, 8]),
        "日本 x": (["æ", "Ĺ", "¥", "æ", "ľ", "¬", "Ġ", "x"], [2, 5, 6, 7]),
    }
    for q, r, got in zip(questions[:2], reasonings[:2], out["letter_probs"][:2], strict=True):
        prompt = tok.encode(DEFAULT_PROMPT.replace("{x}", q), add_special_tokens=True).ids
        enc = tok.encode(r, add_special_tokens=False)
        ids, (names, by_hand) = enc.ids, tokens[r]
        assert enc.tokens == names
        if fixture == "tiny_lm_dir_bos":
            assert prompt[0] == 0  # the BOS is in the context, not among the scored tokens
        lp = direct_logprobs(model_dir, prompt + ids)[len(prompt) - 1 :]
        assert len(lp) == len(ids)
        expected = np.exp(lp)[by_hand]
        assert got.dtype == np.float32 and len(got) == len(r)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=0)
    assert out["letter_probs"][2].shape == (0,)


def test_teacher_force_reports_a_trace_longer_than_the_context(tiny_lm_dir):
    op = TeacherForce(tiny_lm_dir, device="cpu")
    op.setup()
    out = op({"question": ["q"], "reasoning": ["ab " * 400]})
    assert out["letter_probs"] == [None]
    assert "more than the model's 512 positions" in out["error"][0]


# -- generation -----------------------------------------------------------------------------------
def test_greedy_generation_matches_a_direct_forward_pass(tiny_lm_dir):
    tok = tokenizer_of(tiny_lm_dir)
    op = Generate(tiny_lm_dir, task="math", max_new_tokens=8, device="cpu", batch_size=2)
    op.setup()
    assert not op.uses_chat_template
    prompts = [op.prompt_ids("What is 2+2?"), op.prompt_ids("Natalia sold clips to her friends.")]
    text = tok.decode(prompts[0])
    assert text.startswith("System: You are a helpful assistant that solves math problems.\nUser: ")
    assert text.endswith(
        "What is 2+2? Respond ONLY with a JSON object in this exact format: "
        '{"reasoning": "...", "final_answer": "..."}\nAssistant: '
    )
    outs = op._greedy(prompts)  # left-padded batch of two prompts of different lengths
    for prompt, (ids, logprobs, stopped) in zip(prompts, outs, strict=True):
        assert len(ids) == len(logprobs) and (stopped or len(ids) == 8)
        full = prompt + ids
        lp = direct_logprobs(tiny_lm_dir, full)[len(prompt) - 1 :]
        np.testing.assert_allclose(logprobs, lp, atol=1e-4, rtol=0)
        from transformers import GPTNeoXForCausalLM

        model = GPTNeoXForCausalLM.from_pretrained(str(tiny_lm_dir)).eval()
        with torch.no_grad():
            logits = model(torch.tensor([full])).logits[0]
        greedy = logits[len(prompt) - 1 : len(full) - 1].argmax(-1).tolist()
        assert ids == greedy
        pieces = token_pieces(tok, ids, skip_special_tokens=True)
        assert "".join(pieces) == tok.decode(ids)
    # the whole operator: a random model writes no JSON, retries once and fails with reasons
    out = op({"question": ["What is 2+2?"]})
    assert out["attempts"] == [2] and out["reasoning"] == [None]
    assert "".join(out["tokens"][0]) == out["text"][0]
    assert out["error"][0].startswith("attempt 1: ") and "attempt 2 (retry): " in out["error"][0]


CHAT = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
NO_SYSTEM = (
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('no system role') }}{% endif %}"
)


@pytest.mark.parametrize("template", [CHAT, NO_SYSTEM + CHAT])
def test_the_prompt_goes_through_the_chat_template(tiny_lm_dir, tmp_path, template):
    import shutil

    model_dir = Path(shutil.copytree(tiny_lm_dir, tmp_path / "chat"))
    config = {"chat_template": template, "tokenizer_class": "PreTrainedTokenizerFast"}
    (model_dir / "tokenizer_config.json").write_text(json.dumps(config))
    op = Generate(model_dir, task="math", device="cpu")
    op.setup()
    assert op.uses_chat_template
    system = "You are a helpful assistant that solves math problems."
    user = 'Q? Respond ONLY with a JSON object in this exact format: {"reasoning": "...", "final_answer": "..."}'
    expected = (
        f"<|system|>{system}\n<|user|>{user}\n<|assistant|>"
        if template == CHAT
        else f"<|user|>{system}\n\n{user}\n<|assistant|>"  # no system role: merged
    )
    assert tokenizer_of(model_dir).decode(op.prompt_ids("Q?")) == expected


def fake_greedy(outputs: dict[tuple[str, bool], str], log: list):
    """A stand-in for Generate._greedy: the output text per (question, retry), as token ids of
    the model's tokenizer with log-probabilities -0.01 * (index + 1)."""

    def greedy(self, prompts):
        res = []
        for p in prompts:
            text = self.lm.tokenizer.decode(p)
            retry = RETRY_INSTRUCTION in text
            q = text.split("User: ")[1].split(" Respond ONLY")[0]
            log.append((q, retry))
            ids = self.lm.tokenizer.encode(outputs[q, retry], add_special_tokens=False).ids
            res.append((ids, [-0.01 * (j + 1) for j in range(len(ids))], True))
        return res

    return greedy


GOOD = '{"reasoning": "a\\"b\\nc", "final_answer": 4}'


def test_json_answers_one_retry_and_failures(tiny_lm_dir, monkeypatch):
    pytest.importorskip("engine.rbridge.letters")
    log: list = []
    outputs = {
        ("good", False): "Sure. " + GOOD,
        ("once", False): '{"reasoning": "unterminated',
        ("once", True): GOOD,
        ("never", False): "no json here",
        ("never", True): '{"final_answer": "3"}',
    }
    monkeypatch.setattr(Generate, "_greedy", fake_greedy(outputs, log))
    op = Generate(tiny_lm_dir, device="cpu")
    op.setup()
    out = op({"question": ["good", "once", "never"]})
    assert log == [
        ("good", False),
        ("once", False),
        ("never", False),
        ("once", True),
        ("never", True),
    ]
    assert out["attempts"] == [1, 2, 2]
    assert out["reasoning"] == ['a"b\nc', 'a"b\nc', None]
    assert out["final_answer"] == ["4", "4", None]
    assert out["error"][:2] == [None, None]
    assert out["error"][2] == (
        "attempt 1: no JSON object in the output; "
        "attempt 2 (retry): the JSON object has no string 'reasoning'"
    )
    # by hand: one character per token of the tiny tokenizer inside the reasoning value
    tok = op.lm.tokenizer
    for text, got in (
        (outputs["good", False], out["letter_probs"][0]),
        (GOOD, out["letter_probs"][1]),
    ):
        ids = tok.encode(text, add_special_tokens=False).ids
        lengths = [len(tok.decode([i])) for i in ids]
        p_char = np.repeat(np.exp([-0.01 * (j + 1) for j in range(len(ids))]), lengths)
        v = text.index('"a') + 1  # a \ " b \ n c
        expected = [
            p_char[v],
            (p_char[v + 1] + p_char[v + 2]) / 2,
            p_char[v + 3],
            (p_char[v + 4] + p_char[v + 5]) / 2,
            p_char[v + 6],
        ]
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_a_split_character_takes_the_p_of_the_token_completing_it(tiny_lm_dir, monkeypatch):
    pytest.importorskip("engine.rbridge.letters")
    text = '{"reasoning": "日 x", "final_answer": "1"}'
    monkeypatch.setattr(Generate, "_greedy", fake_greedy({("uni", False): text}, []))
    op = Generate(tiny_lm_dir, device="cpu")
    op.setup()
    out = op({"question": ["uni"]})
    enc = op.lm.tokenizer.encode(text, add_special_tokens=False)
    k = enc.tokens.index("æ")  # 日 = three byte tokens æ Ĺ ¥, then Ġ, x
    assert enc.tokens[k : k + 5] == ["æ", "Ĺ", "¥", "Ġ", "x"]
    assert out["tokens"][0][k : k + 5] == ["", "", "日", " ", "x"]
    p = np.exp([-0.01 * (j + 1) for j in (k + 2, k + 3, k + 4)])
    np.testing.assert_allclose(out["letter_probs"][0], p, rtol=1e-6)


# -- the jobs -------------------------------------------------------------------------------------
def add_benchmark(ws, name: str, items: list[tuple[str, str, str]]) -> int:
    from engine.store import catalog

    examples = [
        SimpleNamespace(ext_id=e, question=q, choices=None, answer=a, text=q, meta=None)
        for e, q, a in items
    ]
    conn = ws.connect()
    try:
        return catalog.insert_benchmark(
            conn,
            name=name,
            category="math",
            split="test",
            fmt="jsonl",
            sources=["t.jsonl"],
            examples=examples,
            skipped=0,
        )
    finally:
        conn.close()


def run_job(ws, spec) -> dict:
    from engine.jobs import launch
    from engine.jobs.worker import execute_job

    return execute_job(ws, launch.submit(ws, spec, detach=False))


def test_generate_and_teacher_force_jobs(workspace, tiny_lm_dir, monkeypatch):
    pytest.importorskip("engine.rbridge.letters")
    from engine.jobs.specs import GenerateSpec, TeacherForceSpec
    from engine.rbridge.proxy_dir import check_model_dir, model_sha256
    from engine.store import traces
    from engine.store.db import transaction

    bench = add_benchmark(
        workspace, "toy", [("e1", "good", "4"), ("e2", "never", "5"), ("e3", "once", "6")]
    )
    outputs = {
        ("good", False): GOOD,
        ("never", False): "x",
        ("never", True): "y",
        ("once", False): "{",
        ("once", True): GOOD,
    }
    monkeypatch.setattr(Generate, "_greedy", fake_greedy(outputs, []))
    spec = GenerateSpec(benchmark_id=bench, model=str(tiny_lm_dir), device="cpu", batch_size=2)
    res = run_job(workspace, spec)
    sha = model_sha256(check_model_dir(tiny_lm_dir))
    assert res["generated"] == 2 and res["failed"] == 1 and res["skipped"] == 0
    assert res["retried"] == 2
    assert res["failures"] == [
        {
            "ext_id": "e2",
            "reason": "attempt 1: no JSON object in the output; "
            "attempt 2 (retry): no JSON object in the output",
        }
    ]
    conn = workspace.connect()
    try:
        rows = traces.trace_rows(conn, bench)
        assert [(r["ext_id"], r["gold"], r["final_answer"], r["prob_source"]) for r in rows] == [
            ("gen-e1", "4", "4", "frontier"),
            ("gen-e3", "6", "4", "frontier"),
        ]
        assert rows[0]["source"] == f"generated:{sha[:12]}"
        assert len(np.frombuffer(rows[0]["letter_probs"], np.float32)) == len('a"b\nc')
        # an imported trace without probabilities
        with transaction(conn):
            traces.insert_traces(
                conn,
                bench,
                [
                    {
                        "ext_id": "imp-1",
                        "question": "What is café?",
                        "reasoning": "café  \n x",
                        "gold": "x",
                        "final_answer": None,
                        "letter_probs": None,
                        "spans": None,
                        "format": "plain",
                        "source": "t.jsonl",
                    }
                ],
            )
    finally:
        conn.close()
    # again: the generated traces are skipped, the failed example is tried again
    res = run_job(workspace, spec)
    assert res["generated"] == 0 and res["skipped"] == 2 and res["failed"] == 1
    res = run_job(
        workspace, TeacherForceSpec(benchmark_id=bench, model=str(tiny_lm_dir), device="cpu")
    )
    assert res["teacher_forced"] == 1 and res["skipped"] == 2 and res["failed"] == 0
    op = TeacherForce(tiny_lm_dir, device="cpu")
    op.setup()
    expected = op({"question": ["What is café?"], "reasoning": ["café  \n x"]})["letter_probs"][0]
    conn = workspace.connect()
    try:
        row = traces.trace_by_ext_id(conn, bench, "imp-1")
    finally:
        conn.close()
    assert row["prob_source"] == f"teacher:{sha}"
    np.testing.assert_array_equal(np.frombuffer(row["letter_probs"], np.float32), expected)
    json.dumps(res)  # the result is JSON
