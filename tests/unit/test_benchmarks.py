"""Benchmark readers: each layout becomes the exact examples a user would expect to see."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest

from engine.errors import InputError, UsageError
from engine.ingest.benchmarks import (
    FORMATS,
    Example,
    parse_field_map,
    parse_text_fields,
    read_benchmark,
)
from engine.ingest.readers import expand_sources

MC_EXAMPLES = [
    Example(
        "q1",
        "Which gas do plants take in to make food?",
        ["oxygen", "carbon dioxide", "nitrogen", "helium"],
        "carbon dioxide",
        "Which gas do plants take in to make food?\ncarbon dioxide",
        {"gold": 1},
    ),
    Example(
        "q2",
        "What causes the tides on Earth?",
        ["the wind", "the Moon's gravity", "earthquakes", "ocean salt"],
        "the Moon's gravity",
        "What causes the tides on Earth?\nthe Moon's gravity",
        {"gold": 1},
    ),
    Example(
        "q3",
        "Which tool measures temperature?",
        ["a ruler", "a scale", "a thermometer", "a compass"],
        "a thermometer",
        "Which tool measures temperature?\na thermometer",
        {"gold": 2},
    ),
]


def read(path: Path, fmt: str = "auto", **kwargs):
    return read_benchmark(expand_sources([path]), fmt, **kwargs)


def write_jsonl(path: Path, *records: dict) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_gz_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode()))
    return path


def write_hf_dir(directory: Path, rows: list[dict]) -> Path:
    """A one-shard `save_to_disk` directory: an Arrow IPC stream plus state.json."""
    directory.mkdir(parents=True)
    table = pa.Table.from_pylist(rows)
    name = "data-00000-of-00001.arrow"
    with (
        pa.OSFile(str(directory / name), "wb") as sink,
        pa.ipc.new_stream(sink, table.schema) as writer,
    ):
        writer.write_table(table)
    (directory / "state.json").write_text(json.dumps({"_data_files": [{"filename": name}]}))
    (directory / "dataset_info.json").write_text("{}")
    return directory


# -- the sample files ---------------------------------------------------------------------------
def test_gsm8k_sample(sample_data):
    read_ = read(sample_data / "bench_gsm8k.jsonl")
    assert read_.format == "gsm8k"
    assert [e.ext_id for e in read_.examples] == ["0", "1", "2"]
    first = read_.examples[0]
    question = "A baker makes 24 rolls and sells 3 bags of 6 rolls. How many rolls are left?"
    solution = (
        "She sells 3 * 6 = <<3*6=18>>18 rolls.\nShe has 24 - 18 = <<24-18=6>>6 rolls left.\n#### 6"
    )
    assert first == Example(
        "0", question, None, solution, question + "\n" + solution, {"short_answer": "6"}
    )
    assert [e.meta["short_answer"] for e in read_.examples] == ["6", "105", "18"]
    assert read_.skipped == []


def test_math_sample(sample_data):
    read_ = read(sample_data / "bench_math.jsonl")
    assert read_.format == "math"
    second = read_.examples[1]
    assert second == Example(
        "1",
        "Solve for $x$: $3x + 5 = 20$.",
        None,
        "Subtract 5 from both sides to get $3x = 15$, so $x = \\boxed{5}$.",
        "Solve for $x$: $3x + 5 = 20$.\n"
        "Subtract 5 from both sides to get $3x = 15$, so $x = \\boxed{5}$.",
        {"answer": "5"},
    )
    assert [e.meta["answer"] for e in read_.examples] == ["720", "5", "9"]


def test_multiple_choice_sample(sample_data):
    read_ = read(sample_data / "bench_mc.jsonl")
    assert read_.format == "mc"
    assert read_.examples == MC_EXAMPLES


def test_humaneval_sample(sample_data):
    read_ = read(sample_data / "bench_humaneval.jsonl.gz")
    assert read_.format == "humaneval"
    first = read_.examples[0]
    prompt = (
        'def count_vowels(word: str) -> int:\n    """Return how many vowels (a, e, i, o, u) are '
        'in word.\n    >>> count_vowels("harbor")\n    2\n    """\n'
    )
    solution = '    return sum(1 for ch in word.lower() if ch in "aeiou")\n'
    assert first == Example(
        "Sample/0",
        prompt,
        None,
        solution,
        prompt + "\n" + solution,
        {"entry_point": "count_vowels"},
    )
    assert [e.ext_id for e in read_.examples] == ["Sample/0", "Sample/1"]


def test_olmes_requests_sample_gives_each_doc_once(sample_data):
    with gzip.open(sample_data / "bench_olmes_requests.jsonl.gz", "rt") as fh:
        assert sum(1 for _ in fh) == 24  # 3 docs x 4 choices x 2 blocks
    read_ = read(sample_data / "bench_olmes_requests.jsonl.gz")
    assert read_.format == "olmes:mc"
    assert read_.examples == MC_EXAMPLES
    assert read(sample_data / "bench_olmes_requests.jsonl.gz", "olmes").examples == MC_EXAMPLES


def test_field_map_sample(sample_data):
    mapping = parse_field_map("id=uid,question=prompt,choices=options,answer=target")
    read_ = read(sample_data / "bench_custom.jsonl", field_map=mapping)
    assert read_.format == "field-map"
    assert read_.examples == [
        Example(
            "c1",
            "Name the largest planet in the solar system.",
            ["Mars", "Jupiter", "Venus"],
            "Jupiter",
            "Name the largest planet in the solar system.\nJupiter",
            {},
        ),
        Example(
            "c2",
            "What is the boiling point of water at sea level in Celsius?",
            ["90", "100", "110"],
            "100",
            "What is the boiling point of water at sea level in Celsius?\n100",
            {},
        ),
    ]


# -- OLMES layouts ------------------------------------------------------------------------------
def olmes_request(doc: dict, doc_id: int, native_id=None) -> dict:
    return {
        "request_type": "loglikelihood",
        "doc": doc,
        "request": {"context": "...", "continuation": " x"},
        "idx": 0,
        "doc_id": doc_id,
        "native_id": native_id,
        "label": 0,
    }


def test_olmes_docs_without_ids_are_deduplicated_by_content(tmp_path):
    """HellaSwag-style: no id in the doc, native_id shared by different items, doc_id counting
    both blocks. Only the doc content tells items apart."""
    docs = [
        {
            "ind": 7,
            "query": "Cooking: He cracks two eggs.",
            "choices": ["whisks them", "sings"],
            "gold": 0,
        },
        {
            "ind": 7,
            "query": "Cooking: She slices bread.",
            "choices": ["toasts it", "flies"],
            "gold": 0,
        },
    ]
    requests = [
        olmes_request(doc, block + i, native_id=7)
        for block in (0, 1_000_000)
        for i, doc in enumerate(docs)
        for _ in doc["choices"]
    ]
    read_ = read(write_gz_jsonl(tmp_path / "requests.jsonl.gz", requests))
    assert read_.format == "olmes:mc"
    assert [(e.ext_id, e.question, e.answer) for e in read_.examples] == [
        ("0", "Cooking: He cracks two eggs.", "whisks them"),
        ("1", "Cooking: She slices bread.", "toasts it"),
    ]


def test_olmes_mc_variant_recovers_choice_texts_from_the_query(tmp_path):
    doc = {
        "id": "sci-1",
        "query": "Question: Which planet is closest to the Sun?\n A. Venus\n B. Mercury\n C. Mars\n"
        "Answer:",
        "choices": ["A", "B", "C"],
        "gold": 1,
    }
    cont = {
        "query": "Picnic: A family unpacks a basket.\nChoose the best continuation:\n"
        " A. They eat sandwiches.\n B. They build a rocket.\nAnswer:",
        "choices": ["A", "B"],
        "gold": 0,
    }
    requests = [olmes_request(doc, 0)] * 3 + [olmes_request(cont, 1)] * 2
    read_ = read(write_gz_jsonl(tmp_path / "requests.jsonl.gz", requests))
    assert read_.examples == [
        Example(
            "sci-1",
            "Which planet is closest to the Sun?",
            ["Venus", "Mercury", "Mars"],
            "Mercury",
            "Which planet is closest to the Sun?\nMercury",
            {"gold": 1},
        ),
        Example(
            "1",
            "Picnic: A family unpacks a basket.",
            ["They eat sandwiches.", "They build a rocket."],
            "They eat sandwiches.",
            "Picnic: A family unpacks a basket.\nThey eat sandwiches.",
            {"gold": 0},
        ),
    ]


def test_olmes_gsm8k_and_math_docs(tmp_path):
    gsm = {"id": 0, "question": "What is 2 + 3?", "answer": "2 + 3 = 5\n#### 5", "choices": ["x"]}
    math = {
        "index": 4,
        "problem": "Compute $2^3$.",
        "solution": "$2^3 = \\boxed{8}$.",
        "answer": "8",
    }
    g = read(write_gz_jsonl(tmp_path / "g.jsonl.gz", [olmes_request(gsm, 0)]))
    m = read(write_gz_jsonl(tmp_path / "m.jsonl.gz", [olmes_request(math, 0)]))
    assert (g.format, g.examples[0].text, g.examples[0].ext_id) == (
        "olmes:gsm8k",
        "What is 2 + 3?\n2 + 3 = 5\n#### 5",
        "0",
    )
    assert (m.format, m.examples[0].answer, m.examples[0].meta, m.examples[0].ext_id) == (
        "olmes:math",
        "$2^3 = \\boxed{8}$.",
        {"answer": "8"},
        "4",
    )


def test_format_olmes_on_a_file_that_is_not_one(sample_data):
    with pytest.raises(InputError) as info:
        read(sample_data / "bench_mc.jsonl", "olmes")
    assert info.value.message == (
        f"{sample_data / 'bench_mc.jsonl'}:1: field 'doc': missing, so this is not an OLMES request"
    )


# -- HF save_to_disk directories ----------------------------------------------------------------
HF_CASES = {
    "hf-arc": (
        {
            "id": "ARC-1",
            "question": "What do roots take up from the soil?",
            "choices": {"text": ["light", "water", "heat"], "label": ["A", "B", "C"]},
            "answerKey": "B",
        },
        Example(
            "ARC-1",
            "What do roots take up from the soil?",
            ["light", "water", "heat"],
            "water",
            "What do roots take up from the soil?\nwater",
            {"gold": 1},
        ),
    ),
    "hf-openbookqa": (
        {
            "id": "7-1",
            "question_stem": "A magnet will stick to",
            "choices": {"text": ["a nail", "a cork"], "label": ["1", "2"]},
            "answerKey": "1",
        },
        Example(
            "7-1",
            "A magnet will stick to",
            ["a nail", "a cork"],
            "a nail",
            "A magnet will stick to\na nail",
            {"gold": 0},
        ),
    ),
    "hf-piqa": (
        {
            "goal": "Keep bread fresh",
            "sol1": "Seal it in a bag.",
            "sol2": "Leave it wet.",
            "label": 0,
        },
        Example(
            "0",
            "Keep bread fresh",
            ["Seal it in a bag.", "Leave it wet."],
            "Seal it in a bag.",
            "Keep bread fresh\nSeal it in a bag.",
            {"gold": 0},
        ),
    ),
    "hf-hellaswag": (
        {
            "ind": 3,
            "activity_label": "Gardening",
            "ctx": "A woman kneels by a flower bed. she",
            "endings": ["pulls the weeds.", "drives away.", "eats the soil.", "sleeps."],
            "label": "0",
        },
        Example(
            "0",
            "Gardening: A woman kneels by a flower bed. she",
            ["pulls the weeds.", "drives away.", "eats the soil.", "sleeps."],
            "pulls the weeds.",
            "Gardening: A woman kneels by a flower bed. she\npulls the weeds.",
            {"gold": 0},
        ),
    ),
    "hf-sciq": (
        {
            "question": "What force pulls objects toward Earth?",
            "distractor1": "magnetism",
            "distractor2": "friction",
            "distractor3": "tension",
            "correct_answer": "gravity",
            "support": "Gravity pulls every mass toward every other mass.",
        },
        Example(
            "0",
            "What force pulls objects toward Earth?",
            ["magnetism", "friction", "tension", "gravity"],
            "gravity",
            "What force pulls objects toward Earth?\ngravity\n"
            "Gravity pulls every mass toward every other mass.",
            {"gold": 3},
        ),
    ),
    "hf-boolq": (
        {"question": "is ice lighter than water", "answer": True, "passage": "Ice floats."},
        Example(
            "0",
            "is ice lighter than water",
            ["yes", "no"],
            "yes",
            "is ice lighter than water\nyes\nIce floats.",
            {"gold": 0, "passage": "Ice floats."},
        ),
    ),
}


@pytest.mark.parametrize("fmt", sorted(HF_CASES))
def test_hf_arrow_dirs_are_detected_and_read(tmp_path, fmt):
    row, expected = HF_CASES[fmt]
    directory = write_hf_dir(tmp_path / "validation", [row])
    read_ = read(directory)
    assert (read_.format, read_.examples) == (fmt, [expected])
    assert read(directory, fmt).examples == [expected]


def test_mmlu_style_question_choices_answer_index(tmp_path):
    row = {"question": "2 + 2 =", "subject": "arithmetic", "choices": ["3", "4"], "answer": 1}
    read_ = read(write_hf_dir(tmp_path / "test", [row]))
    assert (read_.format, read_.examples[0].answer, read_.examples[0].text) == (
        "mc",
        "4",
        "2 + 2 =\n4",
    )


# -- field maps ---------------------------------------------------------------------------------
def test_parse_field_map():
    assert parse_field_map("question=prompt, choices=options ,answer=target") == {
        "question": "prompt",
        "choices": "options",
        "answer": "target",
    }
    assert parse_field_map("id=key,question=q,choices=opts,gold=label") == {
        "id": "key",
        "question": "q",
        "choices": "opts",
        "gold": "label",
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("question=q,answr=a", "unknown --field-map key 'answr'"),
        ("question=q,answer", "bad --field-map entry 'answer'"),
        ("answer=a", "--field-map needs question=FIELD"),
        ("question=q", "--field-map needs answer=FIELD, or choices=FIELD and gold=FIELD"),
        (
            "question=q,gold=g",
            "--field-map gold=FIELD needs choices=FIELD (gold is an index into the choices)",
        ),
        ("question=q,question=p,answer=a", "--field-map names 'question' twice"),
    ],
)
def test_bad_field_maps_are_usage_errors(spec, message):
    with pytest.raises(UsageError) as info:
        parse_field_map(spec)
    assert info.value.message == message


def test_field_map_with_gold_index_from_csv(tmp_path):
    p = tmp_path / "quiz.csv"
    p.write_text('prompt,opts,label\nPick the mammal,"[""shark"", ""whale""]",1\n')
    mapping = parse_field_map("question=prompt,choices=opts,gold=label")
    read_ = read(p, field_map=mapping)
    assert read_.examples == [
        Example(
            "0",
            "Pick the mammal",
            ["shark", "whale"],
            "whale",
            "Pick the mammal\nwhale",
            {"gold": 1},
        )
    ]


def test_field_map_names_the_missing_field_and_line(tmp_path):
    p = write_jsonl(tmp_path / "c.jsonl", {"q": "one?", "a": "1"}, {"q": "two?"})
    with pytest.raises(InputError) as info:
        read(p, field_map=parse_field_map("question=q,answer=a"))
    assert info.value.message == f"{p}:2: field 'a': missing"
    assert info.value.fix == "fix the record (format field-map), or pass --skip-bad"


# -- errors -------------------------------------------------------------------------------------
def test_an_unknown_format_lists_the_formats(sample_data):
    with pytest.raises(UsageError) as info:
        read(sample_data / "bench_gsm8k.jsonl", "nonsense")
    assert info.value.message == "unknown --format 'nonsense'"
    assert info.value.fix == "use one of: " + ", ".join(FORMATS)
    assert "gsm8k" in info.value.fix and "hf-boolq" in info.value.fix


def test_format_field_map_without_a_map(sample_data):
    with pytest.raises(UsageError, match="--format field-map needs --field-map"):
        read(sample_data / "bench_custom.jsonl", "field-map")


def test_undetectable_records_say_what_to_pass(tmp_path):
    p = write_jsonl(tmp_path / "odd.jsonl", {"prompt": "p", "target": "t"})
    with pytest.raises(InputError) as info:
        read(p)
    assert info.value.message == (
        f"{p}:1: cannot tell the benchmark format from the fields (prompt, target)"
    )
    assert "--field-map question=FIELD,answer=FIELD" in info.value.fix


def test_zero_examples(tmp_path):
    p = write_jsonl(tmp_path / "g.jsonl", {"question": "q1"}, {"question": "q2"})
    skipped: list[InputError] = []
    with pytest.raises(InputError) as info:
        read(p, "gsm8k", skip_bad=True, on_skip=skipped.append)
    assert info.value.message == f"{p}: no examples (2 bad records skipped)"
    assert [e.message for e in skipped] == [
        f"{p}:1: field 'answer': missing",
        f"{p}:2: field 'answer': missing",
    ]


def test_a_record_that_does_not_fit_names_line_and_field(tmp_path):
    p = write_jsonl(
        tmp_path / "mc.jsonl",
        {"query": "Q1", "choices": ["a", "b"], "gold": 0},
        {"query": "Q2", "choices": ["a", "b"], "gold": 2},
        {"query": "Q3", "choices": ["a", "b"], "gold": 1},
    )
    with pytest.raises(InputError) as info:
        read(p)
    assert info.value.message == (
        f"{p}:2: field 'gold': must be an index 0..1 into the choices, got 2"
    )
    read_ = read(p, skip_bad=True)
    assert [(e.ext_id, e.answer) for e in read_.examples] == [("0", "a"), ("1", "b")]
    assert [e.line for e in read_.skipped] == [2]


def test_duplicate_ids_name_both_lines(tmp_path):
    p = write_jsonl(
        tmp_path / "dup.jsonl",
        {"id": "x", "query": "Q1", "choices": ["a", "b"], "gold": 0},
        {"id": "y", "query": "Q2", "choices": ["a", "b"], "gold": 0},
        {"id": "x", "query": "Q3", "choices": ["a", "b"], "gold": 1},
    )
    with pytest.raises(InputError) as info:
        read(p)
    assert info.value.message == f"{p}:3: field 'id': duplicate example id 'x' (first at {p}:1)"
    assert [e.ext_id for e in read(p, skip_bad=True).examples] == ["x", "y"]


def test_a_single_source_need_not_be_in_a_list(sample_data):
    (source,) = expand_sources([sample_data / "bench_math.jsonl"])
    assert len(read_benchmark(source).examples) == 3


# -- what a field holds: the text that gets embedded must be text (issue #8) --------------------
def test_a_parquet_column_of_numbers_is_not_question_text(tmp_path):
    import pyarrow.parquet as pq

    p = tmp_path / "nums.parquet"
    pq.write_table(pa.table({"question": [1.5, 2.0], "answer": ["a", "b"]}), p)
    with pytest.raises(InputError) as info:
        read(p, "gsm8k")
    assert info.value.message == f"{p} row 1: field 'question': must be text, got a number"


def test_a_numeric_answer_is_taken_as_its_text(tmp_path):
    p = write_jsonl(tmp_path / "g.jsonl", {"question": "1 + 1?", "answer": 2})
    (example,) = read(p, "gsm8k").examples
    assert (example.question, example.answer) == ("1 + 1?", "2")


def test_a_binary_column_is_called_binary(tmp_path):
    import pyarrow.parquet as pq

    p = tmp_path / "bin.parquet"
    pq.write_table(pa.table({"question": [b"\x00\x01"], "answer": ["a"]}), p)
    with pytest.raises(InputError) as info:
        read(p, "gsm8k")
    assert info.value.message == (
        f"{p} row 1: field 'question': must be text, got binary data (bytes)"
    )


def test_a_null_question_is_called_null_not_missing(tmp_path):
    p = write_jsonl(tmp_path / "n.jsonl", {"question": None, "answer": "a"})
    with pytest.raises(InputError) as info:
        read(p, "gsm8k")
    assert info.value.message == f"{p}:1: field 'question': is null"


# -- the text that gets embedded: the paper's by default, the fields recorded -------------------
SCIQ = {
    "question": "What force pulls objects toward Earth?",
    "distractor1": "magnetism",
    "distractor2": "friction",
    "distractor3": "tension",
    "correct_answer": "gravity",
}


def test_the_paper_text_takes_the_context_field_and_records_the_fields(tmp_path):
    rows = [{**SCIQ, "support": ""}, {**SCIQ, "support": "Mass attracts mass."}]
    read_ = read(write_jsonl(tmp_path / "sciq.jsonl", *rows), "hf-sciq")
    assert [e.text for e in read_.examples] == [
        "What force pulls objects toward Earth?\ngravity",
        "What force pulls objects toward Earth?\ngravity\nMass attracts mass.",
    ]
    assert read_.text_fields == ["question", "answer", "support"]
    # no example with a support: the field is not claimed
    read_ = read(write_jsonl(tmp_path / "nosupport.jsonl", {**SCIQ, "support": " "}), "hf-sciq")
    assert read_.text_fields == ["question", "answer"]


def test_text_fields_choose_the_parts(sample_data, tmp_path):
    with_choices = read(
        sample_data / "bench_mc.jsonl", text_fields=("question", "choices", "answer")
    )
    assert with_choices.text_fields == ["question", "choices", "answer"]
    assert with_choices.examples[0].text == (
        "Which gas do plants take in to make food?\noxygen\ncarbon dioxide\nnitrogen\nhelium\n"
        "carbon dioxide"
    )
    assert read(sample_data / "bench_mc.jsonl").text_fields == ["question", "answer"]
    answer_first = read(
        write_jsonl(tmp_path / "s.jsonl", {**SCIQ, "support": "Mass attracts mass."}),
        text_fields=("context", "answer"),
    )
    assert answer_first.examples[0].text == "Mass attracts mass.\ngravity"
    assert answer_first.text_fields == ["support", "answer"]


def test_a_field_map_context_joins_the_text(tmp_path):
    p = write_jsonl(
        tmp_path / "c.jsonl",
        {"q": "Who wrote it?", "a": "Austen", "ctx": "A novel of 1813."},
        {"q": "When?", "a": "1813", "ctx": None},
    )
    read_ = read(p, field_map=parse_field_map("question=q,answer=a,context=ctx"))
    assert [e.text for e in read_.examples] == [
        "Who wrote it?\nAusten\nA novel of 1813.",
        "When?\n1813",
    ]
    assert read_.text_fields == ["question", "answer", "ctx"]
    bad = write_jsonl(tmp_path / "bad.jsonl", {"q": "Who?", "a": "x", "ctx": 3})
    with pytest.raises(InputError) as info:
        read(bad, field_map=parse_field_map("question=q,answer=a,context=ctx"))
    assert info.value.message == f"{bad}:1: field 'ctx': must be text, got a number"


def test_parse_text_fields():
    assert (
        parse_text_fields(None) == parse_text_fields("paper") == ("question", "answer", "context")
    )
    assert parse_text_fields(" Question, choices,answer ") == ("question", "choices", "answer")
    for spec, message in (
        ("question,solution", "bad --text-fields 'question,solution': unknown solution"),
        ("question,question", "--text-fields 'question,question' names a part twice"),
        ("choices,context", "--text-fields 'choices,context' has neither question nor answer"),
        (" , ", "bad --text-fields ' , '"),
    ):
        with pytest.raises(UsageError) as info:
            parse_text_fields(spec)
        assert info.value.message == message


def test_an_olmes_sciq_doc_read_as_mc_keeps_its_support(tmp_path):
    doc = {
        "index": "0",
        "question": "What force pulls objects toward Earth?",
        "query": "What force pulls objects toward Earth?",
        "choices": ["magnetism", "gravity"],
        "gold": 1,
        "support": "Mass attracts mass.",
    }
    read_ = read(write_gz_jsonl(tmp_path / "sciq.jsonl.gz", [olmes_request(doc, 0)] * 2))
    assert read_.format == "olmes:mc" and read_.text_fields == ["question", "answer", "support"]
    assert (
        read_.examples[0].text
        == "What force pulls objects toward Earth?\ngravity\nMass attracts mass."
    )
