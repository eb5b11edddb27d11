"""Each document format of sample_data/ and precise errors for bad records."""

from __future__ import annotations

import gzip
import json

import pytest

from engine.errors import InputError, UsageError
from engine.ingest.benchmarks import parse_field_map, read_benchmark
from engine.ingest.readers import detect_format, expand_sources, extract_doc, iter_records


def docs_of(path, **kw):
    out = []
    for source in expand_sources([path]):
        out.extend(extract_doc(r, **kw) for r in iter_records(source))
    return out


@pytest.mark.parametrize(
    "name",
    ["docs.jsonl", "docs.jsonl.gz", "docs.jsonl.zst", "docs.parquet", "docs.csv", "docs_arrow"],
)
def test_every_sample_format_gives_the_same_docs(sample_data, name):
    reference = [json.loads(line) for line in (sample_data / "docs.jsonl").read_text().splitlines()]
    docs = docs_of(sample_data / name, meta_fields=("url",))
    assert [d[0] for d in docs] == [r["id"] for r in reference]
    assert [d[1] for d in docs] == [r["text"] for r in reference]
    assert [d[2] for d in docs] == [{"url": r["url"]} for r in reference]


def test_record_locations(sample_data):
    (jsonl,) = expand_sources([sample_data / "docs.jsonl"])
    assert [(r.line, r.unit) for r in iter_records(jsonl)][:2] == [(1, "line"), (2, "line")]
    (pq,) = expand_sources([sample_data / "docs.parquet"])
    assert [(r.line, r.unit) for r in iter_records(pq)][:2] == [(1, "row"), (2, "row")]
    (csv,) = expand_sources([sample_data / "docs.csv"])
    assert next(iter(iter_records(csv))).line == 2  # line 1 is the header


def test_detect_format():
    assert detect_format("a.jsonl.zst") == "jsonl"
    assert detect_format("a.ndjson") == "jsonl"
    assert detect_format("a.csv.gz") == "csv"
    assert detect_format("a.parquet") == "parquet"
    with pytest.raises(UsageError, match="unknown file type"):
        detect_format("a.parquet.gz")
    with pytest.raises(UsageError, match=r"\.jsonl"):
        detect_format("notes.txt")


def test_ids_default_to_file_and_line_and_dotted_fields(tmp_path):
    p = tmp_path / "n.jsonl"
    p.write_text(json.dumps({"body": {"text": "nested"}, "meta": {"url": "u"}}) + "\n")
    (doc,) = docs_of(p, text_field="body.text", meta_fields=("meta.url", "absent"))
    assert doc == ("n.jsonl:1", "nested", {"meta.url": "u", "absent": None})


@pytest.mark.parametrize(
    ("record", "kw", "message"),
    [
        ({"id": 1, "body": "x"}, {}, "n.jsonl:1: field 'text': missing (the record has: body, id)"),
        ({"text": 5}, {}, "n.jsonl:1: field 'text': must be a string, got int"),
        ({"text": "  "}, {}, "n.jsonl:1: field 'text': is empty"),
        ({"text": "t"}, {"id_field": "uid"}, "n.jsonl:1: field 'uid': missing"),
        ({"text": "t", "id": [1]}, {}, "field 'id': the id must be a string or an integer"),
    ],
)
def test_extract_doc_errors_name_file_line_field(tmp_path, record, kw, message):
    p = tmp_path / "n.jsonl"
    p.write_text(json.dumps(record) + "\n")
    with pytest.raises(InputError) as err:
        docs_of(p, **kw)
    assert message in str(err.value)


def test_skip_bad_reports_and_yields_the_rest(tmp_path):
    p = tmp_path / "m.jsonl"
    p.write_bytes(b'{"text": "a"}\n{bad\n\n[1, 2]\n{"text": "b"}\n\xff\xfe\n')
    skipped: list[InputError] = []
    (source,) = expand_sources([p])
    recs = list(iter_records(source, skip_bad=True, on_skip=skipped.append))
    assert [r.data["text"] for r in recs] == ["a", "b"]
    assert [(e.line, e.bare_message.split(":")[0]) for e in skipped] == [
        (2, "malformed JSON"),
        (4, "expected a JSON object, got list"),
        (6, "invalid UTF-8 at byte 1 of the line"),
    ]


def test_truncated_gzip_is_an_input_error(tmp_path):
    p = tmp_path / "t.jsonl.gz"
    p.write_bytes(gzip.compress(b'{"text": "a"}\n' * 1000)[:-30])
    (source,) = expand_sources([p])
    with pytest.raises(InputError, match="t.jsonl.gz: .*(truncated|corrupt)"):
        list(iter_records(source))


def test_csv_quoted_newlines_and_ragged_rows(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text('id,text\n1,"two\nlines"\n2,x,extra\n')
    (source,) = expand_sources([p])
    with pytest.raises(InputError, match="q.csv:4: has 3 fields, the header has 2"):
        list(iter_records(source))
    recs = list(iter_records(source, skip_bad=True))
    assert recs[0].data == {"id": "1", "text": "two\nlines"}


def test_directory_without_arrow_files(tmp_path):
    with pytest.raises(InputError, match="directory without .arrow files"):
        expand_sources([tmp_path])


# -- benchmarks -----------------------------------------------------------------------------
def bench(sample_data, name, fmt="auto", **kw):
    return read_benchmark(expand_sources([sample_data / name]), fmt, **kw)


def test_sample_gsm8k(sample_data):
    read = bench(sample_data, "bench_gsm8k.jsonl")
    assert (read.format, len(read.examples)) == ("gsm8k", 3)
    ex = read.examples[1]
    assert ex.question == "Tom reads 15 pages a day. How many pages does he read in a week?"
    assert ex.answer == "A week has 7 days, so he reads 15 * 7 = <<15*7=105>>105 pages.\n#### 105"
    assert ex.text == ex.question + "\n" + ex.answer
    assert ex.meta == {"short_answer": "105"}


def test_sample_math(sample_data):
    ex = bench(sample_data, "bench_math.jsonl").examples[1]
    assert (ex.question, ex.meta["answer"]) == ("Solve for $x$: $3x + 5 = 20$.", "5")
    assert ex.answer.startswith("Subtract 5 from both sides")


def test_sample_mc_and_olmes_agree(sample_data):
    mc = bench(sample_data, "bench_mc.jsonl")
    olmes = bench(sample_data, "bench_olmes_requests.jsonl.gz")
    assert (mc.format, olmes.format) == ("mc", "olmes:mc")
    assert [e.__dict__ for e in mc.examples] == [e.__dict__ for e in olmes.examples]
    ex = mc.examples[0]
    assert ex.ext_id == "q1"
    assert ex.question == "Which gas do plants take in to make food?"
    assert ex.choices == ["oxygen", "carbon dioxide", "nitrogen", "helium"]
    assert ex.answer == "carbon dioxide"
    assert ex.text == (
        "Which gas do plants take in to make food?\noxygen\ncarbon dioxide\nnitrogen\nhelium\n"
        "carbon dioxide"
    )


def test_sample_humaneval(sample_data):
    read = bench(sample_data, "bench_humaneval.jsonl.gz")
    assert read.format == "humaneval"
    assert [e.ext_id for e in read.examples] == ["Sample/0", "Sample/1"]
    assert read.examples[0].meta == {"entry_point": "count_vowels"}


def test_field_map(sample_data):
    mapping = parse_field_map("id=uid,question=prompt,choices=options,answer=target")
    read = bench(sample_data, "bench_custom.jsonl", "field-map", field_map=mapping)
    ex = read.examples[0]
    assert (ex.ext_id, ex.question, ex.choices, ex.answer) == (
        "c1",
        "Name the largest planet in the solar system.",
        ["Mars", "Jupiter", "Venus"],
        "Jupiter",
    )
    with pytest.raises(UsageError, match="unknown --field-map key 'prompt'"):
        parse_field_map("prompt=question")
    with pytest.raises(UsageError, match="needs question=FIELD"):
        parse_field_map("answer=a")


def test_olmes_letter_choices_are_recovered(tmp_path):
    doc = {
        "id": "x1",
        "query": "Question: Which is a mammal?\n A. trout\n B. whale\n C. eagle\nAnswer:",
        "choices": ["A", "B", "C"],
        "gold": 1,
    }
    p = tmp_path / "r.jsonl"
    p.write_text(
        "".join(
            json.dumps({"request_type": "loglikelihood", "doc": doc, "idx": i}) + "\n"
            for i in range(3)
        )
    )
    (ex,) = read_benchmark(expand_sources([p])).examples
    assert (ex.question, ex.choices, ex.answer) == (
        "Which is a mammal?",
        ["trout", "whale", "eagle"],
        "whale",
    )


def test_benchmark_errors(tmp_path, sample_data):
    with pytest.raises(UsageError, match="unknown --format 'xml'"):
        bench(sample_data, "bench_mc.jsonl", "xml")
    p = tmp_path / "odd.jsonl"
    p.write_text(json.dumps({"foo": 1}) + "\n")
    with pytest.raises(InputError, match="odd.jsonl:1: cannot tell the benchmark format"):
        read_benchmark(expand_sources([p]))
    p.write_text(json.dumps({"query": "q", "choices": ["a"], "gold": 3}) + "\n")
    with pytest.raises(InputError, match=r"odd.jsonl:1: field 'gold': must be an index 0..0"):
        read_benchmark(expand_sources([p]))


def test_zero_examples_is_an_error(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps({"query": "q", "choices": ["a"], "gold": 3}) + "\n")
    with pytest.raises(InputError, match="no examples"):
        read_benchmark(expand_sources([p]), skip_bad=True)
