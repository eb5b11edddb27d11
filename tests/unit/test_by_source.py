"""The kept share by source on a hand-made pool of three sources (exact values)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.betr.by_source import SourceShare, by_source, group_run, parse_field
from engine.errors import UsageError
from tests.unit.test_tradeoff import run_index

# probability order: row 0 first. Pool: a 350 tokens (3 docs), b 400 (3), c.csv 250 (2)
DOC_ID = [11, 12, 13, 14, 15, 16, 17, 18]
TOKENS = [100, 300, 200, 100, 50, 150, 50, 50]
SOURCES = {
    11: "a.jsonl:1",
    12: "b.jsonl:1",
    13: "a.jsonl:2",
    14: "c.csv row 1",
    15: "b.jsonl:2",
    16: "c.csv row 2",
    17: "a.jsonl:3",
    18: "b.jsonl:3",
}


def pool(field="source", values=None, top=20):
    index = run_index(DOC_ID, TOKENS)
    values = values or SOURCES
    ids = np.array(sorted(values), dtype=np.int64)
    return index, group_run(index, field, ids, [values[i] for i in ids], top=top)


def row(group, docs, kept_docs, tokens, kept_tokens, total_kept):
    return SourceShare(
        group=group,
        docs=docs,
        kept_docs=kept_docs,
        tokens=tokens,
        kept_tokens=kept_tokens,
        survival=kept_tokens / tokens,
        kept_share=kept_tokens / total_kept,
        pool_share=tokens / 1000,
    )


def test_a_token_cut_inside_a_doc_keeps_that_doc_whole():
    index, groups = pool()
    assert groups.names == ["b.jsonl", "a.jsonl", "c.csv"]  # by pool tokens
    # 50% of 1000 tokens: rows 0-1 hold 400, row 2 (doc 13, 200 tokens) crosses 500: kept whole
    out = by_source(index, groups, 0.5, "tokens")
    assert out.kept_docs == 3 and out.kept_tokens == 600
    assert out.threshold == index.prob[2]
    assert out.rows == [
        row("b.jsonl", 3, 1, 400, 300, 600),
        row("a.jsonl", 3, 2, 350, 300, 600),
        row("c.csv", 2, 0, 250, 0, 600),
    ]
    assert out.rows[1].survival == 300 / 350
    assert out.n_values == 3 and out.n_other == 0
    assert out.field == "source" and out.keep_percent == 50.0


def test_a_doc_cut():
    index, groups = pool()
    out = by_source(index, groups, 0.5, "docs")  # ceil(0.5 * 8) = 4 docs: rows 0-3
    assert out.kept_docs == 4 and out.kept_tokens == 700
    assert out.rows == [
        row("b.jsonl", 3, 1, 400, 300, 700),
        row("a.jsonl", 3, 2, 350, 300, 700),
        row("c.csv", 2, 1, 250, 100, 700),
    ]
    assert [r.kept_share for r in out.rows] == [3 / 7, 3 / 7, 1 / 7]


@pytest.mark.parametrize(
    ("keep", "by", "kept"),
    [
        (0.10, "tokens", [0, 100, 0]),  # exactly the first doc
        (0.101, "tokens", [300, 100, 0]),  # one token more: the second doc too
        (1.0, "tokens", [400, 350, 250]),
        (0.125, "docs", [0, 100, 0]),
    ],
)
def test_kept_tokens_per_source_follow_the_cut(keep, by, kept):
    index, groups = pool()
    out = by_source(index, groups, keep, by)
    assert [r.kept_tokens for r in out.rows] == kept
    assert sum(kept) == out.kept_tokens == index.cum_tokens[index.cut(keep, by) - 1]


def test_many_values_fold_into_other():
    index, groups = pool(top=2)
    assert groups.names == ["b.jsonl", "a.jsonl", "(other 1)"]
    out = by_source(index, groups, 0.5, "docs")
    assert out.rows[2] == row("(other 1)", 2, 1, 250, 100, 700)
    assert out.n_values == 3 and out.n_other == 1


def test_a_metadata_field_with_docs_lacking_it():
    lang = {11: "en", 12: "de", 13: None, 14: "en", 15: "de", 16: "en", 17: "en"}  # 18: absent
    index, groups = pool("meta.lang", lang)
    # en: 11 14 16 17 = 400; de: 12 15 = 350; (none): 13 and 18 (missing) = 250
    assert groups.names == ["en", "de", "(none)"]
    out = by_source(index, groups, 0.5, "tokens")  # rows 0-2 kept
    assert out.field == "meta.lang"
    assert out.rows == [
        row("en", 4, 1, 400, 100, 600),
        row("de", 2, 1, 350, 300, 600),
        row("(none)", 2, 1, 250, 200, 600),
    ]


def test_equal_pools_are_ordered_by_name():
    values = {i: ("y" if i % 2 else "x") for i in DOC_ID}  # both 500 tokens
    _index, groups = pool("meta.k", values)
    assert groups.names == ["x", "y"]


def test_source_locators_are_dropped():
    values = {
        11: "part-0.jsonl:17",
        12: "t.csv row 5",
        13: "pool.whl!boolq-00042",
        14: "pool.whl!boolq-00043",
        15: "part-0.jsonl:3",
        16: "plain",
        17: "t.csv row 6",
        18: "pool.whl!squad-00001",
    }
    _index, groups = pool(values=values)
    assert sorted(groups.names) == [
        "part-0.jsonl",
        "plain",
        "pool.whl!boolq",
        "pool.whl!squad",
        "t.csv",
    ]


def test_bad_fields_and_foreign_groupings_are_refused():
    assert parse_field(None) == ("source", None)
    assert parse_field("meta.lang") == ("meta.lang", "lang")
    for bad in ("lang", "meta.", "meta.a b", "src"):
        with pytest.raises(UsageError, match="cannot group by"):
            parse_field(bad)
    _index, groups = pool()
    other = run_index(DOC_ID, TOKENS, run_id=2)
    with pytest.raises(UsageError, match="not of run 2"):
        by_source(other, groups, 0.1)
