"""Reading traces in the four import formats. Every input file here is a constructed fixture
written into tmp_path by the test (shaped like the real exports, not copied from them)."""

from __future__ import annotations

import json
import math

import pytest

from engine.errors import InputError, UsageError
from engine.rbridge.formats import read_traces

L = math.log


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return str(path)


def chat_completion(tokens, logprobs, *, content=None, raw=None, cid="chatcmpl-1"):
    """A chat-completions response body (constructed)."""
    entries = [
        {"token": t, "logprob": lp, "bytes": (raw[i] if raw else list(t.encode()))}
        for i, (t, lp) in enumerate(zip(tokens, logprobs, strict=True))
    ]
    return {
        "id": cid,
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content or "".join(tokens)},
                "logprobs": {"content": entries},
                "finish_reason": "stop",
            }
        ],
    }


ANSWER = ['{"reasoning": "', "2+2", "=4\\", 'n", "final_answer": 4}']
ANSWER_P = [L(0.9), L(0.5), L(0.25), L(0.8)]


# -- openai ------------------------------------------------------------------------------------
def test_openai_completion_and_batch_lines(tmp_path):
    plain = chat_completion(ANSWER, ANSWER_P)
    plain.update({"custom_id": "q1", "question": "What is 2+2?", "gold": 4})
    batch = {
        "id": "batch_req_1",
        "custom_id": "q2",
        "response": {"status_code": 200, "body": chat_completion(["Café", " ok"], [0.0, L(0.5)])},
        "error": None,
        "request": {
            "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "Q2"}]
        },
    }
    path = write_jsonl(tmp_path / "oa.jsonl", [plain, batch])
    records, skipped = read_traces([path], "openai")
    assert skipped == []
    a, b = records
    assert (a.ext_id, a.question, a.reasoning, a.final_answer, a.gold) == (
        "q1",
        "What is 2+2?",
        "2+2=4\n",
        "4",
        "4",
    )
    assert a.letter_probs.tolist() == pytest.approx([0.5] * 3 + [0.25] * 2 + [(0.25 + 0.8) / 2])
    assert a.source == f"{path}:1" and a.spans is None
    assert (b.ext_id, b.question, b.reasoning, b.final_answer) == ("q2", "Q2", "Café ok", None)
    assert b.letter_probs.tolist() == pytest.approx([1.0] * 4 + [0.5] * 3)


def test_openai_bytes_splitting_a_character(tmp_path):
    body = chat_completion(
        ["na", "\\xc3", "\\xafve"],
        [L(0.5), L(0.2), L(0.6)],
        content="naïve",
        raw=[list(b"na"), [0xC3], [0xAF, 0x76, 0x65]],
    )
    body["question"] = "q"
    (rec,), _ = read_traces([write_jsonl(tmp_path / "b.jsonl", [body])], "openai")
    assert rec.reasoning == "naïve"
    assert rec.letter_probs.tolist() == pytest.approx([0.5, 0.5, 0.4, 0.6, 0.6])


def _openai_line(**change):
    body = chat_completion(["The", " answer"], [L(0.5), L(0.25)])
    body["question"] = "q"
    body.update(change)
    return body


def test_openai_bad_records_name_file_line_field_and_fix(tmp_path):
    good = _openai_line(id="ok")
    mismatch = _openai_line(id="m")
    mismatch["choices"][0]["message"]["content"] = "The answers"
    mismatch["choices"][0]["message"]["content"] = "Thx answer"
    truncated = _openai_line(id="t")
    truncated["choices"][0]["message"]["content"] = "The answer is 4"
    missing = _openai_line(id="n")
    missing["choices"][0]["logprobs"] = None
    nan = _openai_line(id="nan")
    nan["choices"][0]["logprobs"]["content"][1]["logprob"] = float("nan")
    positive = _openai_line(id="pos")
    positive["choices"][0]["logprobs"]["content"][0]["logprob"] = 0.3
    cases = [
        (mismatch, "do not concatenate to the completion: first difference at character 2"),
        (truncated, "truncated log-probabilities: the tokens cover only the first 10 of 15"),
        (missing, "field 'choices[0].logprobs': missing log-probabilities"),
        (nan, "token 1: logprob is NaN"),
        (positive, "token 0: logprob is positive"),
    ]
    for bad, msg in cases:
        path = tmp_path / "bad.jsonl"
        path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n", "utf-8")
        with pytest.raises(InputError) as err:
            read_traces([str(path)], "openai")
        assert str(err.value).startswith(f"{path}:3: ")
        assert msg in str(err.value)
        assert err.value.fix and err.value.line == 3
    # skip_bad: the good records, and one message per bad one
    path = write_jsonl(tmp_path / "mixed.jsonl", [good] + [c for c, _ in cases])
    records, skipped = read_traces([path], "openai", skip_bad=True)
    assert [r.ext_id for r in records] == ["ok"]
    assert len(skipped) == len(cases) and skipped[0].startswith(f"{path}:2: ")


def test_openai_question_is_required(tmp_path):
    body = chat_completion(["a"], [0.0])
    path = write_jsonl(tmp_path / "q.jsonl", [body])
    with pytest.raises(InputError, match="no question") as err:
        read_traces([path], "openai")
    assert "--field-map question=FIELD" in err.value.fix
    (rec,), _ = read_traces([path], "openai", field_map={"question": "object"})
    assert rec.question == "chat.completion" and rec.ext_id == "chatcmpl-1"


# -- plain ---------------------------------------------------------------------------------------
def test_plain_with_and_without_tokens(tmp_path):
    rows = [
        {
            "id": "a",
            "benchmark": "gsm8k",
            "question": "q",
            "reasoning": "2 + 2",
            "tokens": [["2", L(0.5)], [" +", L(0.25)], [" 2", 0.0]],
        },
        {"id": 7, "question": "q", "reasoning": "no probs", "gold": "4"},
        {
            "id": "j",
            "question": "q",
            "reasoning": "a\nb",
            "tokens": [['{"reasoning": "a\\', L(0.5)], ['nb"}', L(0.25)]],
        },
    ]
    records, _ = read_traces([write_jsonl(tmp_path / "p.jsonl", rows)], "plain")
    a, b, j = records
    assert a.benchmark == "gsm8k" and a.letter_probs.tolist() == [0.5, 0.25, 0.25, 1.0, 1.0]
    assert (b.ext_id, b.letter_probs, b.gold, b.benchmark) == ("7", None, "4", None)
    assert j.reasoning == "a\nb" and j.letter_probs.tolist() == pytest.approx([0.5, 0.375, 0.25])


def test_plain_bad_records(tmp_path):
    base = {"id": "a", "question": "q", "reasoning": "The cat"}
    cases = [
        ({"id": "a", "question": "q"}, "field 'reasoning': missing 'reasoning'"),
        ({**base, "tokens": [["The", -0.1], [" cut", -0.1]]}, "first difference at character 5"),
        ({**base, "tokens": [["The", -0.1]]}, "truncated log-probabilities"),
        ({**base, "tokens": [["The", -0.1], [" cat", 2.0]]}, "token 1: logprob is positive"),
        ({**base, "tokens": [["The", None], [" cat", -1]]}, "token 0 has no logprob"),
        ({**base, "tokens": [["The"]]}, "token 0: expected [token, logprob]"),
        ({**base, "reasoning": "  "}, "the reasoning is empty"),
        ({**base, "question": 3}, "field 'question': expected a string, got a number"),
    ]
    for bad, msg in cases:
        path = write_jsonl(tmp_path / "bad.jsonl", [bad])
        with pytest.raises(InputError) as err:
            read_traces([path], "plain")
        assert str(err.value).startswith(f"{path}:1: ") and msg in str(err.value)
    path = tmp_path / "broken.jsonl"
    path.write_text('{"id": "a", \n', "utf-8")
    with pytest.raises(InputError, match="malformed JSON"):
        read_traces([str(path)], "plain")


def test_field_map_renames_and_rejects_unknown_names(tmp_path):
    path = write_jsonl(tmp_path / "m.jsonl", [{"uid": "x", "prompt": "q", "cot": "r"}])
    (rec,), _ = read_traces(
        [path], "plain", field_map={"id": "uid", "question": "prompt", "reasoning": "cot"}
    )
    assert (rec.ext_id, rec.question, rec.reasoning) == ("x", "q", "r")
    with pytest.raises(UsageError, match="unknown name 'answer' for the plain format"):
        read_traces([path], "plain", field_map={"answer": "a"})
    with pytest.raises(UsageError, match="unknown trace format"):
        read_traces([path], "csv")


def test_no_records_is_an_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n", "utf-8")
    with pytest.raises(InputError, match="no traces read"):
        read_traces([str(path)], "plain")
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "a"}])
    with pytest.raises(InputError, match=r"no traces read \(1 bad records skipped\)"):
        read_traces([bad], "plain", skip_bad=True)


# -- mask ----------------------------------------------------------------------------------------
def test_mask_records_spans_and_errors(tmp_path):
    rows = [
        {"question": "Q", "reasoning": "So <span>x = 4</span>. Done <span>4</span>"},
        {"id": "m2", "question": "Q", "reasoning": "<span>é</span>", "gold": "4"},
    ]
    path = write_jsonl(tmp_path / "masked.jsonl", rows)
    (a, b), _ = read_traces([path], "mask")
    assert (a.ext_id, a.reasoning, a.spans, a.letter_probs) == (
        "masked-1",
        "So x = 4. Done 4",
        [(3, 8), (15, 16)],
        None,
    )
    assert (b.ext_id, b.reasoning, b.spans, b.gold) == ("m2", "é", [(0, 1)], "4")
    # a JSON array works too
    arr = tmp_path / "masked.json"
    arr.write_text(json.dumps(rows), "utf-8")
    (a, _b), _ = read_traces([str(arr)], "mask")
    assert a.ext_id == "masked-0" and a.source == f"{arr}[0]"
    for bad, msg in [
        ({"question": "Q", "reasoning": "<span>open"}, "field 'reasoning': a <span> is never"),
        ({"question": "Q", "reasoning": "none"}, "no <span>...</span> in the reasoning"),
    ]:
        path = write_jsonl(tmp_path / "bad.jsonl", [bad])
        with pytest.raises(InputError, match=msg):
            read_traces([path], "mask")


# -- rbridge release layout -------------------------------------------------------------------
def rbridge_release(tmp_path, *, parts=2, drop_part=None, rows_for=None):
    """traces/gsm8k/gpt4o_s1_new.json + gpt4o_s1_new_logprobs_partNN_of_MM.jsonl (constructed;
    the real field names are unpublished: these use the defaults)."""
    folder = tmp_path / "traces" / "gsm8k"
    folder.mkdir(parents=True)
    completions = [
        {"id": "g1", "question": "Q1", "completion": '{"reasoning": "ab", "final_answer": "1"}'},
        {"id": "g2", "question": "Q2", "completion": "plain cd", "gold": "2"},
    ]
    (folder / "gpt4o_s1_new.json").write_text(json.dumps(completions), "utf-8")
    rows = rows_for or [
        ("g1", '{"reasoning": "a', L(0.5)),
        ("g1", 'b", "final_answer": "1"}', L(0.25)),
        ("g2", "plain", L(0.8)),
        ("g2", " cd", L(0.4)),
    ]
    rows = [{"id": i, "token": t, "logprob": lp} for i, t, lp in rows]
    per = math.ceil(len(rows) / parts)
    for k in range(1, parts + 1):
        if k != drop_part:
            chunk = rows[(k - 1) * per : k * per]
            write_jsonl(folder / f"gpt4o_s1_new_logprobs_part{k:02d}_of_{parts:02d}.jsonl", chunk)
    return folder / "gpt4o_s1_new.json"


def test_rbridge_release_joins_parts_in_order(tmp_path):
    path = rbridge_release(tmp_path, parts=3)
    (g1, g2), skipped = read_traces([str(path)], "rbridge")
    assert skipped == []
    assert (g1.ext_id, g1.question, g1.reasoning, g1.final_answer) == ("g1", "Q1", "ab", "1")
    assert g1.letter_probs.tolist() == pytest.approx([0.5, 0.25])
    assert (g2.reasoning, g2.gold, g2.final_answer) == ("plain cd", "2", None)
    assert g2.letter_probs.tolist() == pytest.approx([0.8] * 5 + [0.4] * 3)
    assert g1.source == f"{path}[0]"
    # the folder works as well as the file
    assert len(read_traces([str(path.parent)], "rbridge")[0]) == 2


def test_rbridge_without_parts_and_with_a_field_map(tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    items = [{"qid": 5, "problem": "Q", "text": '{"reasoning": "x\\ny", "final_answer": 2}'}]
    (folder / "s.json").write_text(json.dumps(items), "utf-8")
    fmap = {"id": "qid", "question": "problem", "completion": "text"}
    (rec,), _ = read_traces([str(folder / "s.json")], "rbridge", field_map=fmap)
    assert (rec.ext_id, rec.reasoning, rec.final_answer, rec.letter_probs) == (
        "5",
        "x\ny",
        "2",
        None,
    )
    rows = [
        {"trace": 5, "tok": '{"reasoning": "x\\ny", ', "lp": -0.5},
        {"trace": 5, "tok": '"final_answer": 2}', "lp": 0.0},
    ]
    write_jsonl(folder / "s_logprobs_part1_of_1.jsonl", rows)
    fmap.update({"trace_id": "trace", "token": "tok", "logprob": "lp"})
    (rec,), _ = read_traces([str(folder / "s.json")], "rbridge", field_map=fmap)
    assert rec.letter_probs.tolist() == pytest.approx([math.exp(-0.5)] * 3)


def test_rbridge_missing_part_is_a_clear_error(tmp_path):
    path = rbridge_release(tmp_path, parts=3, drop_part=2)
    with pytest.raises(InputError) as err:
        read_traces([str(path)], "rbridge", skip_bad=True)
    assert "missing logprob part 2 of 3 for gpt4o_s1_new" in str(err.value)
    assert "gpt4o_s1_new_logprobs_partNN_of_03.jsonl" in err.value.fix


def test_rbridge_bad_traces(tmp_path):
    rows = [
        ("g1", '{"reasoning": "a', L(0.5)),
        ("g2", "plain", L(0.8)),
        ("g2", " cd", L(0.4)),
        ("zz", "x", 0.0),
    ]
    path = rbridge_release(tmp_path, parts=1, rows_for=rows)
    with pytest.raises(InputError) as err:
        read_traces([str(path)], "rbridge")
    assert str(err.value).startswith(f"{path} index 0: field 'completion': truncated")
    assert "its token rows start at" in str(err.value)
    records, skipped = read_traces([str(path)], "rbridge", skip_bad=True)
    assert [r.ext_id for r in records] == ["g2"]
    assert "token rows for trace 'zz', which is not in gpt4o_s1_new.json" in skipped[1]
    part = path.parent / "gpt4o_s1_new_logprobs_part01_of_01.jsonl"
    assert skipped[1].startswith(f"{part}:4: ")
    # tokens that spell another text
    good_g1 = {"id": "g1", "token": '{"reasoning": "ab", "final_answer": "1"}', "logprob": 0.0}
    write_jsonl(part, [good_g1, {"id": "g2", "token": "plain cX", "logprob": 0.0}])
    with pytest.raises(InputError, match="index 1: .*first difference at character 7"):
        read_traces([str(path)], "rbridge")


def test_rbridge_trace_without_token_rows_and_bad_rows(tmp_path):
    rows = [("g1", '{"reasoning": "ab", "final_answer": "1"}', L(0.5))]
    path = rbridge_release(tmp_path, parts=1, rows_for=rows)
    with pytest.raises(InputError, match="no log-probabilities for trace 'g2'"):
        read_traces([str(path)], "rbridge")
    part = path.parent / "gpt4o_s1_new_logprobs_part01_of_01.jsonl"
    lines = [{"id": "g1", "token": "x"}, {"id": "g2", "token": "plain cd", "logprob": 0.0}]
    write_jsonl(part, lines)
    records, skipped = read_traces([str(path)], "rbridge", skip_bad=True)
    assert skipped == [f"{part}:1: field 'logprob': no logprob (missing log-probability)"]
    assert [r.ext_id for r in records] == ["g2"]


def test_rbridge_part_without_its_completions_file(tmp_path):
    path = rbridge_release(tmp_path, parts=1)
    part = path.parent / "gpt4o_s1_new_logprobs_part01_of_01.jsonl"
    with pytest.raises(InputError, match="a logprob part without its completions file"):
        read_traces([str(part)], "rbridge")


def test_rbridge_duplicate_completion_id_is_named_and_skip_bad_keeps_the_first(tmp_path):
    """Two completions with one id: the second is reported as a duplicate (it used to read as
    "no log-probabilities"), and --skip-bad keeps the first with its token rows (issue 19.11)."""
    path = rbridge_release(tmp_path)
    completions = json.loads(path.read_text("utf-8"))
    path.write_text(json.dumps([*completions, {**completions[0], "question": "again"}]), "utf-8")
    with pytest.raises(InputError, match=r"index 2: field 'id': trace id 'g1' appears twice"):
        read_traces([str(path)], "rbridge")
    records, skipped = read_traces([str(path)], "rbridge", skip_bad=True)
    assert [(r.ext_id, r.question) for r in records] == [("g1", "Q1"), ("g2", "Q2")]
    assert records[0].letter_probs.tolist() == pytest.approx([0.5, 0.25])
    assert len(skipped) == 1 and "appears twice" in skipped[0]
