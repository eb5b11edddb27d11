"""Malformed input to the newest importers (issue 19.7, 19.8, 19.11): every case exits 2 with
the file, the line (or item) and the field, and the workspace is unchanged; valid JSON Lines
holding U+2028, U+2029 or U+0085 inside strings import; .gz trace files read like documents.

The files are constructed here (each a minimal record of its format with one fault)."""

from __future__ import annotations

import gzip
import json
from contextlib import closing

import pytest

from tests.helpers import betr

GOOD = {
    "id": "a",
    "benchmark": "mini",
    "question": "Q?",
    "reasoning": "ab cd",
    "tokens": [["ab", -0.1], [" cd", -0.2]],
}
NESTED = "[" * 100_000
BIG = "9" * 401


def everything(ws) -> dict[str, list]:
    """Every table but the job table (which records the attempt)."""
    with closing(ws.connect(readonly=True)) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN "
                "('jobs', 'sqlite_sequence') AND name NOT LIKE '%fts%'"
            )
        ]
        return {t: conn.execute(f"SELECT * FROM {t}").fetchall() for t in tables}


@pytest.fixture()
def ws(workspace, tmp_path):
    bench = tmp_path / "mini.jsonl"
    bench.write_text(json.dumps({"id": 1, "question": "Q?", "answer": "So 72. #### 72"}) + "\n")
    assert betr(workspace, "import", "bench", str(bench), "--name", "mini")[0] == 0
    return workspace


def line(record: dict | str) -> str:
    return (record if isinstance(record, str) else json.dumps(record)) + "\n"


# (command, file name, content, what the message must say)
TRACE_CASES = [
    ("nested", line(GOOD) + line(NESTED), ":2", "nested too deeply"),
    (
        "surrogate",
        line(json.dumps(GOOD).replace('"Q?"', '"Q\\ud800?"')),
        ":1",
        "field 'question': holds an unpaired surrogate",
    ),
    (
        "big-logprob",
        line(json.dumps(GOOD).replace("-0.1", "-" + BIG)),
        ":1",
        "logprob is an integer of 401 digits",
    ),
    (
        "logprob-true",
        line(json.dumps(GOOD).replace("-0.1", "true")),
        ":1",
        "field 'tokens': trace 'a': token 0: logprob is not a number (true)",
    ),
    (
        "logprob-string",
        line(json.dumps(GOOD).replace("-0.1", '"-0.1"')),
        ":1",
        'logprob is not a number (the string "-0.1")',
    ),
    ("duplicate-id", line(GOOD) + line(GOOD), ":2", "field 'id': trace id 'a' appears twice"),
]


@pytest.mark.parametrize(("name", "content", "where", "what"), TRACE_CASES)
def test_bad_trace_files_exit_2_and_change_nothing(ws, tmp_path, name, content, where, what):
    path = tmp_path / f"{name}.jsonl"
    path.write_text(content)
    before = everything(ws)
    code, _, err = betr(
        ws, "rbridge", "import", str(path), "--benchmark", "mini", "--format", "plain"
    )
    assert code == 2, err
    assert f"{path}{where}" in err and what in err and "Traceback" not in err, err
    assert everything(ws) == before


def test_rbridge_release_layout_with_bad_numbers_and_nesting(ws, tmp_path):
    """The rbridge format: a completions array nested too deeply, and a token row with a
    401-digit logprob in a logprob part."""
    nested = tmp_path / "nested" / "gsm.json"
    nested.parent.mkdir()
    nested.write_text("[" + NESTED)
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "gsm.json").write_text(json.dumps([{"id": "a", "question": "Q?", "completion": "ab"}]))
    (parts / "gsm_logprobs_part01_of_01.jsonl").write_text(
        line({"id": "a", "token": "ab", "logprob": int(BIG)})
    )
    before = everything(ws)
    for path, what in ((nested, "nested too deeply"), (parts / "gsm.json", "401 digits")):
        code, _, err = betr(
            ws, "rbridge", "import", str(path), "--benchmark", "mini", "--format", "rbridge"
        )
        assert code == 2 and what in err and str(path.parent) in err, err
    assert everything(ws) == before


def test_valid_json_lines_with_unicode_line_separators_import(ws, tmp_path):
    """U+2028, U+2029 and U+0085 inside JSON strings are text, not line breaks (issue 19.8),
    with and without --skip-bad; a .jsonl.gz trace file reads like a document file."""
    path = tmp_path / "seps.jsonl"
    path.write_text(
        json.dumps({**GOOD, "question": "Q\u2028a\u2029b\u0085?"}, ensure_ascii=False)
        + "\n"
        + json.dumps({**GOOD, "id": "b"})
        + "\n",
        encoding="utf-8",
    )
    code, out, err = betr(
        ws,
        "rbridge",
        "import",
        str(path),
        "--benchmark",
        "mini",
        "--format",
        "plain",
        "--skip-bad",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["imported"] == 2 and json.loads(out)["skipped"] == 0
    gz = tmp_path / "t.jsonl.gz"
    gz.write_bytes(gzip.compress(line({**GOOD, "id": "g"}).encode()))
    code, out, err = betr(
        ws, "rbridge", "import", str(gz), "--benchmark", "mini", "--format", "plain", "--json"
    )
    assert code == 0 and json.loads(out)["imported"] == 1, err


def test_skip_bad_skips_a_duplicate_trace_id_and_keeps_the_first(ws, tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text(line(GOOD) + line({**GOOD, "question": "Other?"}) + line({**GOOD, "id": "c"}))
    code, out, err = betr(
        ws,
        "rbridge",
        "import",
        str(path),
        "--benchmark",
        "mini",
        "--format",
        "plain",
        "--skip-bad",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert (result["imported"], result["skipped"]) == (2, 1)
    assert "trace id 'a' appears twice" in result["skipped_examples"][0]
    with closing(ws.connect(readonly=True)) as conn:
        kept = conn.execute("SELECT question FROM traces WHERE ext_id = 'a'").fetchall()
    assert [r[0] for r in kept] == ["Q?"]


LMEVAL = {
    "results": {"arc_easy": {"acc": 0.5}},
    "config": {"model_args": "pretrained=EleutherAI/pythia-160m,revision=step1000"},
}


def test_bad_results_files_exit_2_and_change_nothing(ws, tmp_path):
    d = tmp_path / "res"
    d.mkdir()
    samples = d / "samples_arc_easy_2024-01-01T00-00-00.jsonl"
    cases = {
        "nested.json": ('{"results": ' + NESTED, ("lm-eval",), "nested too deeply", None),
        "surrogate.json": (
            json.dumps(LMEVAL).replace("pythia-160m", "pythia\\udc00"),
            ("lm-eval",),
            "holds an unpaired surrogate",
            "field 'config.model_args'",
        ),
        samples.name: (
            line({"doc_id": 0, "target": 0, "filtered_resps": [[[-1.0, "False"]]]}) + line(NESTED),
            ("lm-eval",),
            "nested too deeply",
            f"{samples.name}:2",
        ),
        "dd.jsonl": (
            line(
                {"params": "1B", "data": "c4", "task": "arc", "step": 1, "metrics": "{'acc': 0.5}"}
            )
            + line(
                json.dumps(
                    {
                        "params": "1B",
                        "data": "c4",
                        "task": "piqa",
                        "step": 1,
                        "metrics": {"acc": 0.5},
                    }
                ).replace("piqa", "p\\ud800")
            ),
            ("datadecide",),
            "holds an unpaired surrogate",
            "dd.jsonl:2: field 'task'",
        ),
        "nan.json": (
            json.dumps({**LMEVAL, "results": {"arc_easy": {"acc": None}, "piqa": {"acc": "NaN"}}}),
            ("lm-eval",),
            "2 value(s) were missing or NaN and dropped",
            None,
        ),
    }
    before = everything(ws)
    for name, (content, fmt, what, where) in cases.items():
        for p in d.iterdir():
            p.unlink()
        path = d / name
        path.write_text(content)
        code, _, err = betr(ws, "results", "import", str(path), "--format", *fmt)
        assert code == 2, (name, err)
        assert what in err and (where or str(path)) in err and "Traceback" not in err, (name, err)
        assert everything(ws) == before, name


def test_a_bench_file_with_an_unpaired_surrogate_exits_2(ws, tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text('{"id": "1", "question": "Natalia \\ud800?", "answer": "x #### 1"}\n')
    before = everything(ws)
    code, _, err = betr(ws, "import", "bench", str(path), "--name", "b2")
    assert code == 2 and f"{path}:1: field 'question': holds an unpaired surrogate" in err, err
    assert everything(ws) == before
