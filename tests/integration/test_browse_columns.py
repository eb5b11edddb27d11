"""VisiData-grade browsing (issue 23.3) in the engine and the CLI: frequency tables against a
polars group-by done here, sorts against numpy's stable sort, keyword-in-context lines, the
columns remembered per corpus, and the view's export with text against the view itself."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from bench.synth_run import make_synthetic_run
from engine.api.browse import Query, load_run_index, make_view, page
from engine.api.columns import (
    choose_columns,
    default_columns,
    ensure_fields,
    shown_columns,
)
from engine.api.frequency import frequency_of_view
from engine.api.view_export import export_view
from engine.betr.columns import COLUMNS, Where, column
from engine.errors import UsageError
from engine.store import browse_columns
from engine.workspace import Workspace
from tests.helpers import betr, betr_json

N_DOCS = 1200
HOSTILE = ("c[x=1-2]", "[bold]red[/bold]", "\x1b[31mred\x1b[0m")


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = Workspace.init(tmp_path_factory.mktemp("columns") / "ws")
    make_synthetic_run(w, N_DOCS, n_sample=300, seed=7, prob_decimals=2)
    conn = w.connect()
    # three source files, a metadata field with markup-like and escape-sequence values, and a
    # doc without it
    conn.execute(
        "UPDATE docs SET source = CASE id % 3 WHEN 0 THEN 'a/part-0.jsonl:' "
        "WHEN 1 THEN 'b/part-1.jsonl:' ELSE 'part-2.jsonl:' END || id"
    )
    conn.execute('UPDATE corpora SET sources = \'["a", "b", "c"]\'')
    for i, value in enumerate(HOSTILE):
        conn.execute(
            "UPDATE docs SET meta = json_set(meta, '$.lang', ?) WHERE id % 7 = ?", (value, i)
        )
    conn.execute("UPDATE docs SET meta = '{}' WHERE id = 5")
    conn.close()
    return w


@pytest.fixture()
def conn(ws):
    c = ws.connect(readonly=True)
    yield c
    c.close()


def frame_of(conn, index, field: str) -> pl.DataFrame:
    """Every doc of the run with its row, tokens and the field's value, read with plain SQL."""
    if field == "source":
        sql = "SELECT id, source FROM docs"
    else:
        sql = f"SELECT id, CAST(json_extract(meta, '$.{field[5:]}') AS TEXT) FROM docs"
    values = dict(conn.execute(sql).fetchall())
    if field == "source":
        values = {k: v.rsplit(":", 1)[0] for k, v in values.items()}
    return pl.DataFrame(
        {
            "row": np.arange(len(index)),
            "value": [values.get(int(d)) for d in index.doc_id],
            "tokens": index.n_tokens,
        }
    )


@pytest.mark.parametrize("field", ["meta.lang", "source", "benchmark"])
@pytest.mark.parametrize("kept", [None, "kept"])
def test_frequency_counts_equal_a_polars_group_by(conn, field, kept):
    index = load_run_index(conn, 1)
    view = make_view(conn, index, Query(kept=kept, keep=0.3))
    table = frequency_of_view(conn, index, view, field)
    if field == "benchmark":
        names = [index.benchmarks.get(int(b)) for b in index.bench]
        frame = pl.DataFrame(
            {"row": np.arange(len(index)), "value": names, "tokens": index.n_tokens}
        )
    else:
        frame = frame_of(conn, index, field)
    frame = frame[view.rows.tolist()].with_columns(kept=pl.col("row") < view.cut)
    expected = (
        frame.group_by("value")
        .agg(
            pl.len().alias("docs"),
            pl.col("tokens").sum(),
            pl.col("tokens").filter(pl.col("kept")).sum().alias("kept_tokens"),
            pl.col("kept").sum().alias("kept_docs"),
        )
        .with_columns(pl.col("value").fill_null("(none)"))
    )
    want = {
        r["value"]: (r["docs"], r["tokens"], r["kept_docs"], r["kept_tokens"])
        for r in expected.iter_rows(named=True)
    }
    got = {r.value: (r.docs, r.tokens, r.kept_docs, r.kept_tokens) for r in table.rows}
    assert got == want
    assert table.view_docs == len(view) and table.n_values == len(want)
    docs = [r.docs for r in table.rows]
    assert docs == sorted(docs, reverse=True)  # largest first
    for r in table.rows:
        assert r.kept_share == pytest.approx(r.kept_tokens / r.tokens)
    # enter on a row: the view filtered to that value has exactly its docs
    for r in table.rows[:4]:
        narrowed = make_view(conn, index, Query(kept=kept, keep=0.3, where=(r.where,)))
        assert len(narrowed) == r.docs, r.value


def test_numeric_frequency_bins_and_their_filters(conn):
    index = load_run_index(conn, 1)
    view = make_view(conn, index, Query())
    table = frequency_of_view(conn, index, view, "tokens", sort="value", descending=False)
    tokens = index.n_tokens
    bins = np.floor(np.log2(tokens)).astype(int)
    want = {int(b): int(n) for b, n in zip(*np.unique(bins, return_counts=True), strict=True)}
    got = {}
    for r in table.rows:
        lo = int(r.where.lo)
        got[int(np.log2(lo))] = r.docs
        assert r.value.startswith(f"{lo:,}")
        assert len(make_view(conn, index, Query(where=(r.where,)))) == r.docs
    assert got == want
    prob = frequency_of_view(conn, index, view, "prob", sort="value", descending=False)
    counts = np.bincount(np.clip(np.floor(index.prob * 10), 0, 9).astype(int), minlength=10)
    assert {r.value: r.docs for r in prob.rows} == {
        f"{k / 10:.1f}–{(k + 1) / 10:.1f}": int(counts[k]) for k in range(10) if counts[k]
    }
    # the score is missing outside the scored sample: its own row, last in value order
    score = frequency_of_view(conn, index, view, "score", sort="value", descending=False)
    assert score.rows[-1].value == "(none)"
    assert score.rows[-1].docs == int(np.isnan(index.score).sum())
    with pytest.raises(UsageError, match="every doc"):
        frequency_of_view(conn, index, view, "rank")


def numpy_order(keys: list[np.ndarray], descending: bool) -> np.ndarray:
    """Stable sorts, the last key first (the classic multi-key sort), NaN last both ways."""
    order = np.arange(len(keys[0]))
    for key in reversed(keys):
        k = -key[order] if descending else key[order]
        order = order[np.argsort(k, kind="stable")]
    return order


@pytest.mark.parametrize("descending", [False, True])
def test_sort_by_each_column_equals_numpys_stable_sort(conn, descending):
    index = load_run_index(conn, 1)
    ensure_fields(conn, index, ["source", "meta.lang"])
    for name in [*COLUMNS, "meta.lang"]:
        direction = "desc" if descending else "asc"
        view = make_view(conn, index, Query(sort=f"{name}:{direction}"))
        col = column(name)
        values = col.values(index)
        if hasattr(values, "categories"):  # text: by value, missing last
            strings = [values.value_at(r) for r in range(len(index))]
            present = sorted({s for s in strings if s is not None})
            key = np.array(
                [np.nan if s is None else present.index(s) for s in strings], dtype=float
            )
            keys = [key]
        else:
            keys = [np.asarray(values, dtype=float)]
            if name == "score":
                keys.append(index.best_cosine)
        assert view.rows.tolist() == numpy_order(keys, descending).tolist(), name
    # a filtered view keeps the sort
    view = make_view(conn, index, Query(sort="tokens:asc", kept="kept"))
    assert np.all(np.diff(index.n_tokens[view.rows]) >= 0)
    with pytest.raises(UsageError, match="unknown column"):
        make_view(conn, index, Query(sort="nope"))
    with pytest.raises(UsageError, match="direction"):
        make_view(conn, index, Query(sort="tokens:up"))


def test_text_sort_is_lexical_with_missing_last(conn):
    index = load_run_index(conn, 1)
    view = make_view(conn, index, Query(sort="meta.lang:asc"), workspace=None)
    langs = frame_of(conn, index, "meta.lang")["value"].to_list()
    shown = [langs[r] for r in view.rows]
    present = [s for s in shown if s is not None]
    assert present == sorted(present)
    assert shown[len(present) :] == [None] * (len(shown) - len(present))
    down = make_view(conn, index, Query(sort="meta.lang:desc"))
    shown = [langs[r] for r in down.rows]
    assert [s for s in shown if s is not None] == sorted(present, reverse=True)
    assert shown[-1] is None


def test_kwic_lines_contain_the_hit(conn):
    index = load_run_index(conn, 1)
    # adjacent hits (a phrase's words) are one span; a phrase may be cut at the line's end
    cases = {
        "theorem": {"theorem"},
        "proof OR river": {"proof", "river"},
        '"the of"': {"the", "of"},
    }
    for search, hits in cases.items():
        view = make_view(conn, index, Query(search=search))
        assert len(view) > 0
        rows = page(conn, index, view, 0, 50)
        for r in rows:
            assert r.hits, r.snippet
            for a, b in r.hits:
                assert set(r.snippet[a:b].lower().split()) <= hits, r.snippet[a:b]
            assert "\ue000" not in r.snippet and "\ue001" not in r.snippet
    # without a search the snippet is the opening, without hits
    assert page(conn, index, make_view(conn, index, Query()), 0, 5)[0].hits == []


def test_row_values_of_the_chosen_columns(conn):
    index = load_run_index(conn, 1)
    view = make_view(conn, index, Query())
    rows = page(conn, index, view, 0, 40, ["meta.lang", "source", "cosine", "split"])
    langs = frame_of(conn, index, "meta.lang")["value"].to_list()
    for r in rows:
        row = r.rank - 1
        assert r.values["meta.lang"] == langs[row]
        assert r.values["source"] == r.source.rsplit(":", 1)[0]
        cos = index.best_cosine[row]
        assert r.values["cosine"] == (None if np.isnan(cos) else pytest.approx(cos))
    assert {r.values["meta.lang"] for r in rows} & set(HOSTILE)


def test_columns_are_remembered_per_corpus(ws, conn):
    corpus_id = int(conn.execute("SELECT id FROM corpora WHERE name = 'synthetic'").fetchone()[0])
    # several source files: the source is a default column, after the metadata field
    assert default_columns(conn, corpus_id) == [
        "prob",
        "score",
        "tokens",
        "benchmark",
        "meta.lang",
        "source",
    ]
    assert shown_columns(conn, corpus_id) == default_columns(conn, corpus_id)
    assert choose_columns(ws, corpus_id, ["meta.lang", "tokens", "meta.lang"]) == [
        "meta.lang",
        "tokens",
    ]
    with ws.connect(readonly=True) as fresh:
        assert shown_columns(fresh, corpus_id) == ["meta.lang", "tokens"]
    with pytest.raises(UsageError, match="no column 'meta.nope'"):
        choose_columns(ws, corpus_id, ["meta.nope"])
    choose_columns(ws, corpus_id, default_columns(conn, corpus_id))


def test_a_field_is_read_once_then_from_the_workspace(ws, conn):
    index = load_run_index(conn, 1)
    ensure_fields(conn, index, ["meta.lang"], workspace=ws)
    n_docs = conn.execute("SELECT n_docs FROM corpora WHERE id = 1").fetchone()[0]
    stored = browse_columns.read_field_column(conn, 1, "meta.lang", n_docs)
    assert stored is not None
    again = load_run_index(conn, 1)
    ensure_fields(conn, again, ["meta.lang"])
    assert again.fields["meta.lang"].codes.tolist() == index.fields["meta.lang"].codes.tolist()
    assert again.fields["meta.lang"].categories == index.fields["meta.lang"].categories
    # an older workspace without the table (read-only, not migrated) reads as nothing stored
    bare = sqlite3.connect(":memory:")
    assert browse_columns.read_field_column(bare, 1, "meta.lang", n_docs) is None
    assert browse_columns.chosen_columns(bare, 1) is None


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_export_of_the_view_equals_the_view_with_text(ws, conn, tmp_path, fmt):
    index = load_run_index(conn, 1)
    query = Query(sort="tokens:asc", where=(Where("meta.lang", value="en"),), kept="dropped")
    view = make_view(conn, index, query)
    out = tmp_path / f"view.{fmt}"
    done = export_view(conn, index, view, out)
    assert done.rows == len(view) and done.format == fmt
    assert out.stat().st_mode & 0o777 == 0o600
    if fmt == "jsonl":
        records = [json.loads(line) for line in out.read_text().splitlines()]
    else:
        records = pq.read_table(out).to_pylist()
    assert [r["doc_id"] for r in records] == index.doc_id[view.rows].tolist()
    texts = dict(conn.execute("SELECT id, text FROM docs").fetchall())
    for r in records:
        assert r["text"] == texts[r["doc_id"]]
        assert r["meta"]["lang"] == "en" and r["kept"] is False
        assert r["tokens"] == index.n_tokens[r["rank"] - 1]
    shown = page(conn, index, view, 0, 10)
    assert [r["rank"] for r in records[:10]] == [r.rank for r in shown]


def test_cli_docs_sort_columns_where_and_export(ws, tmp_path):
    up = betr_json(ws, "docs", "--run", "1", "--sort", "tokens:asc", "--limit", "30")
    tokens = [r["n_tokens"] for r in up["rows"]]
    assert tokens == sorted(tokens)
    got = betr_json(
        ws, "docs", "--run", "1", "--columns", "meta.lang,cosine", "--where", "meta.lang=de"
    )
    assert got["columns"] == ["meta.lang", "cosine"]
    assert {r["values"]["meta.lang"] for r in got["rows"]} == {"de"}
    code, out, err = betr(ws, "docs", "--run", "1", "--columns", "meta.lang,tokens")
    assert code == 0, err
    assert "lang" in out.splitlines()[1]
    # data that looks like markup or an escape sequence is printed as text
    code, out, err = betr(ws, "docs", "--run", "1", "--where", f"meta.lang={HOSTILE[2]}")
    assert code == 0, err
    assert "\x1b" not in out and "red" in out
    listed = betr_json(ws, "docs", "--run", "1", "--list-columns")
    assert {"prob", "source", "meta.lang", "split"} <= {c["name"] for c in listed}
    dest = tmp_path / "v.parquet"
    done = betr_json(ws, "docs", "--run", "1", "--kept", "--export", str(dest))
    assert done["format"] == "parquet" and done["rows"] == pq.read_table(dest).num_rows
    code, _out, err = betr(ws, "docs", "--run", "1", "--sort", "nope")
    assert code == 2 and "unknown column 'nope'" in err
    code, _out, err = betr(ws, "docs", "--run", "1", "--where", "tokens=many")
    assert code == 2 and "is a number" in err


def test_cli_freq_equals_the_api(ws, conn):
    got = betr_json(ws, "freq", "--run", "1", "--field", "meta.lang", "--limit", "0")
    index = load_run_index(conn, 1)
    view = make_view(conn, index, Query())
    table = frequency_of_view(conn, index, view, "meta.lang")
    assert [(r["value"], r["docs"], r["kept_tokens"]) for r in got["rows"]] == [
        (r.value, r.docs, r.kept_tokens) for r in table.rows
    ]
    code, out, err = betr(ws, "freq", "--run", "1", "--field", "meta.lang", "--limit", "3")
    assert code == 0, err
    assert "meta.lang: " in out and "more values" in out
    assert "\x1b" not in out
    kept = betr_json(ws, "freq", "--run", "1", "--field", "benchmark", "--kept", "--keep", "20%")
    assert sum(r["docs"] for r in kept["rows"]) == kept["view_docs"]
    assert all(r["kept_share"] == 1.0 for r in kept["rows"])
    code, _out, err = betr(ws, "freq", "--run", "1", "--field", "meta.nope")
    assert code == 2 and "no metadata field 'nope'" in err
