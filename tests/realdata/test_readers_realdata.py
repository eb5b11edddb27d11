"""The readers on the real public files in ../shared/data (skipped when the folder is absent)."""

from __future__ import annotations

import pytest

from engine.ingest.benchmarks import read_benchmark
from engine.ingest.readers import expand_sources, extract_doc, iter_records

pytestmark = pytest.mark.realdata

# (path under benchmarks/, detected format, examples) as data/README.md counts them
BENCHMARKS = [
    ("gsm8k/test.jsonl", "gsm8k", 1319),
    ("gsm8k/train.jsonl", "gsm8k", 7473),
    ("math500/test.jsonl", "math", 500),
    ("math_full_test/test.jsonl", "math", 5000),
    ("arc/arc_challenge_test.jsonl", "mc", 1172),
    ("arc/arc_easy_test.jsonl", "mc", 2376),
    ("piqa/piqa_val.jsonl", "mc", 1838),
    ("hellaswag/hellaswag_val_1000.jsonl", "mc", 1000),
    ("hellaswag/olmo_hellaswag_rc_5shot_requests.jsonl.gz", "olmes:mc", 1000),
    ("humaneval/HumanEval.jsonl.gz", "humaneval", 164),
]


@pytest.mark.parametrize(("path", "fmt", "count"), BENCHMARKS)
def test_every_benchmark_file_is_detected_and_fully_read(shared_data, path, fmt, count):
    read = read_benchmark(expand_sources([shared_data / "benchmarks" / path]))
    assert (read.format, len(read.examples), read.skipped) == (fmt, count, [])
    assert len({e.ext_id for e in read.examples}) == count
    assert read.text_fields == ["question", "answer"]  # none of these has a context field
    for ex in read.examples:
        assert ex.question.strip() and ex.answer.strip()
        assert ex.text == f"{ex.question}\n{ex.answer}"  # the paper's text
        if fmt.endswith("mc"):
            assert ex.answer == ex.choices[ex.meta["gold"]]


def test_real_examples_read_as_a_user_expects(shared_data):
    bench = shared_data / "benchmarks"
    gsm = read_benchmark(expand_sources([bench / "gsm8k/test.jsonl"])).examples[0]
    assert gsm.question.startswith("Janet\u2019s ducks lay 16 eggs per day.")
    assert gsm.answer.endswith("#### 18") and gsm.meta == {"short_answer": "18"}
    arc = read_benchmark(expand_sources([bench / "arc/arc_challenge_test.jsonl"])).examples[0]
    assert arc.question == (
        "An astronomer observes that a planet rotates faster after a meteorite impact. "
        "Which is the most likely effect of this increase in rotation?"
    )
    assert arc.answer == "Planetary days will become shorter."
    piqa = read_benchmark(expand_sources([bench / "piqa/piqa_val.jsonl"])).examples[0]
    assert piqa.question == "How do I ready a guinea pig cage for it's new occupants?"
    he = read_benchmark(expand_sources([bench / "humaneval/HumanEval.jsonl.gz"])).examples[0]
    assert he.ext_id == "HumanEval/0" and he.meta == {"entry_point": "has_close_elements"}
    math500 = read_benchmark(expand_sources([bench / "math500/test.jsonl"])).examples[0]
    assert math500.meta["answer"] == "\\left( 3, \\frac{\\pi}{2} \\right)"


def test_the_olmes_hellaswag_file_holds_the_same_items_as_the_jsonl(shared_data):
    bench = shared_data / "benchmarks/hellaswag"
    plain = read_benchmark(expand_sources([bench / "hellaswag_val_1000.jsonl"])).examples
    olmes = read_benchmark(
        expand_sources([bench / "olmo_hellaswag_rc_5shot_requests.jsonl.gz"])
    ).examples
    assert [e.text for e in olmes] == [e.text for e in plain]


def test_combined_docs_gives_2693_documents(shared_data):
    (source,) = expand_sources([shared_data / "web_docs/combined_docs.jsonl"])
    docs = [extract_doc(rec, meta_fields=("source",)) for rec in iter_records(source)]
    assert len(docs) == 2693
    assert len({ext_id for ext_id, _, _ in docs}) == 2693
    assert all(text.strip() for _, text, _ in docs)
    assert sum(len(text) for _, text, _ in docs) > 10_000_000  # "10.6M chars"


@pytest.mark.parametrize("name", ["c4-sample.01.json.gz", "c4-sample.02.json.gz"])
def test_c4_json_gz_files_parse(shared_data, name):
    (source,) = expand_sources([shared_data / "web_docs/olmo_c4" / name])
    docs = [extract_doc(rec, meta_fields=("url",)) for rec in iter_records(source)]
    assert len(docs) == 10
    assert all(meta["url"].startswith("http") for _, _, meta in docs)
    assert [ext_id for ext_id, _, _ in docs][:2] == [f"{name}:1", f"{name}:2"]
