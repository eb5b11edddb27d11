"""Every benchmark file in ../shared/data reads with the right format and the exact count."""

from __future__ import annotations

import pytest

from engine.ingest.benchmarks import read_benchmark
from engine.ingest.readers import expand_sources, extract_doc, iter_records

pytestmark = pytest.mark.realdata

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


@pytest.mark.parametrize(("rel", "fmt", "count"), BENCHMARKS)
def test_benchmark_files(shared_data, rel, fmt, count):
    read = read_benchmark(expand_sources([shared_data / "benchmarks" / rel]))
    assert (read.format, len(read.examples), read.skipped) == (fmt, count, [])
    for ex in read.examples:
        assert ex.question.strip() and ex.answer.strip()
        assert ex.text == "\n".join([ex.question, *(ex.choices or []), ex.answer])


def test_gsm8k_example_fields(shared_data):
    ex = read_benchmark(expand_sources([shared_data / "benchmarks/gsm8k/test.jsonl"])).examples[0]
    assert ex.question.startswith("Janet’s ducks lay 16 eggs per day.")
    assert ex.answer.endswith("#### 18") and ex.meta == {"short_answer": "18"}
    assert ex.choices is None


def test_arc_example_fields(shared_data):
    path = shared_data / "benchmarks/arc/arc_challenge_test.jsonl"
    ex = read_benchmark(expand_sources([path])).examples[0]
    assert ex.question == (
        "An astronomer observes that a planet rotates faster after a meteorite impact. "
        "Which is the most likely effect of this increase in rotation?"
    )
    assert ex.choices[2] == ex.answer == "Planetary days will become shorter."
    assert ex.meta == {"gold": 2}


def test_web_docs_read_completely(shared_data):
    (source,) = expand_sources([shared_data / "web_docs/combined_docs.jsonl"])
    docs = [extract_doc(r) for r in iter_records(source)]
    assert len(docs) == 2693
    assert len({d[0] for d in docs}) == 2693
    assert sum(len(d[1]) for d in docs) > 10_000_000


def test_c4_gzip_json_files_parse(shared_data):
    files = sorted((shared_data / "web_docs/olmo_c4").glob("c4-sample.*.json.gz"))
    assert files
    for source in expand_sources(files):
        recs = list(iter_records(source))
        assert recs and all(isinstance(r.data.get("text"), str) for r in recs)


def test_dolma_jsonl_parse(shared_data):
    for source in expand_sources(sorted((shared_data / "web_docs/dolma_cc").glob("*.jsonl"))):
        assert sum(1 for _ in iter_records(source)) > 0
