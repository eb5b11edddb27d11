"""Browsing a run (engine.api.browse, labels) and the `betr tradeoff | overlap | agreement |
docs | labels` verbs, on generated runs checked against plain SQL over the same tables."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from bench.synth_run import make_synthetic_run
from engine.api.browse import Query, doc_detail, load_run_index, make_view, page
from engine.api.labels import export_labels, label_agreement, set_label
from engine.api.select import select
from engine.betr.tradeoff import Budget, overlap, tradeoff
from engine.errors import NotFoundError, UsageError
from engine.store.scores import build_run_columns
from engine.workspace import Workspace
from tests.helpers import betr, betr_json

N_DOCS = 1500


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = Workspace.init(tmp_path_factory.mktemp("browse") / "ws")
    # two decimals: hundreds of tied probabilities, ordered by doc id
    make_synthetic_run(w, N_DOCS, n_sample=300, seed=3, prob_decimals=2)
    make_synthetic_run(w, N_DOCS, seed=4, targets="other", benchmarks=("gsm8k", "mmlu"))
    make_synthetic_run(w, 50, seed=5, corpus="elsewhere", targets="third")
    return w


@pytest.fixture()
def conn(ws):
    c = ws.connect()
    yield c
    c.close()


def test_packed_columns_equal_the_tables(conn):
    index = load_run_index(conn, 1)
    order = conn.execute(
        "SELECT doc_id, prob, n_tokens, cum_tokens FROM prob_order WHERE run_id = 1 "
        "ORDER BY position"
    ).fetchall()
    assert index.doc_id.tolist() == [r[0] for r in order]
    assert index.prob.tolist() == [r[1] for r in order]
    assert index.cum_tokens.tolist() == [r[3] for r in order]
    sample = dict(conn.execute("SELECT doc_id, score FROM run_sample WHERE run_id = 1"))
    got = {int(d): float(s) for d, s in zip(index.doc_id, index.score, strict=True) if s == s}
    assert got == sample
    fresh = build_run_columns(conn, 1)
    assert fresh["doc_id"].tolist() == index.doc_id.tolist()


def test_ties_are_ordered_by_doc_id(conn):
    index = load_run_index(conn, 1)
    ties = 0
    for i in range(1, len(index)):
        if index.prob[i] == index.prob[i - 1]:
            ties += 1
            assert index.doc_id[i] > index.doc_id[i - 1]
        else:
            assert index.prob[i] < index.prob[i - 1]
    assert ties > 500  # two-decimal probabilities over 1500 docs


@pytest.mark.parametrize("by", ["tokens", "docs"])
@pytest.mark.parametrize("keep", [0.0005, 0.01, 0.1, 0.333, 0.5, 0.999, 1.0])
def test_cut_equals_select(conn, keep, by):
    index = load_run_index(conn, 1)
    sel = select(conn, 1, keep, by)
    cut = index.cut(keep, by)
    assert cut == sel.position
    stats = tradeoff(index, keep, by, Budget())
    assert (stats.kept_docs, stats.kept_tokens) == (sel.position, sel.kept_tokens)
    assert stats.threshold == sel.threshold


def test_views_equal_sql(conn):
    index = load_run_index(conn, 1)
    gsm = conn.execute("SELECT id FROM benchmarks WHERE name = 'gsm8k'").fetchone()[0]
    want = conn.execute(
        "SELECT doc_id FROM run_sample WHERE run_id = 1 AND benchmark_id = ? "
        "ORDER BY score DESC, best_cosine DESC, doc_id",
        (gsm,),
    ).fetchall()
    view = make_view(conn, index, Query(sort="score", benchmark="gsm8k"))
    assert index.doc_id[view.rows].tolist() == [r[0] for r in want]
    # kept / dropped at 10 % of tokens partition the pool
    sel = select(conn, 1, 0.1)
    kept = make_view(conn, index, Query(kept="kept", keep=0.1))
    dropped = make_view(conn, index, Query(kept="dropped", keep=0.1))
    assert (len(kept), len(dropped)) == (sel.position, N_DOCS - sel.position)
    # tokens: longest first, ties in probability order
    by_tokens = make_view(conn, index, Query(sort="tokens"))
    pairs = list(zip(-index.n_tokens[by_tokens.rows], by_tokens.rows, strict=True))
    assert pairs == sorted(pairs)
    # search, metadata and source filters combine with AND
    hits = {
        r[0]
        for r in conn.execute(
            "SELECT d.id FROM docs_fts f JOIN docs d ON d.id = f.rowid WHERE docs_fts MATCH "
            "'planet' AND d.corpus_id = 1 AND json_extract(d.meta, '$.lang') = 'de' AND "
            "d.source LIKE 'synthetic.jsonl:1%'"
        )
    }
    view = make_view(
        conn, index, Query(search="planet", meta=("lang", "de"), source="synthetic.jsonl:1")
    )
    assert set(index.doc_id[view.rows].tolist()) == hits and hits
    assert view.rows.tolist() == sorted(view.rows.tolist())  # probability order


def test_search_quotes_what_is_not_fts_syntax(conn):
    index = load_run_index(conn, 1)
    assert len(make_view(conn, index, Query(search='planet"'))) == len(
        make_view(conn, index, Query(search="planet"))
    )
    assert len(make_view(conn, index, Query(search="C++ AND"))) == 0


def test_page_rows(conn):
    index = load_run_index(conn, 1)
    view = make_view(conn, index, Query())
    rows = page(conn, index, view, 10, 5)
    assert [r.row for r in rows] == [10, 11, 12, 13, 14]
    assert [r.rank for r in rows] == [11, 12, 13, 14, 15]
    want = conn.execute(
        "SELECT o.doc_id, o.prob, o.n_tokens, d.source FROM prob_order o JOIN docs d "
        "ON d.id = o.doc_id WHERE o.run_id = 1 AND o.position BETWEEN 11 AND 15 ORDER BY o.position"
    ).fetchall()
    assert [(r.doc_id, r.prob, r.n_tokens, r.source) for r in rows] == [tuple(w) for w in want]
    cut = index.cut(0.1, "tokens")
    assert all(r.kept == (r.rank <= cut) for r in rows)
    assert page(conn, index, view, N_DOCS + 5, 10) == []
    assert view.find_rank(11) == 10
    assert make_view(conn, index, Query(kept="dropped")).find_rank(1) is None


def test_doc_detail_and_labels(ws, conn):
    index = load_run_index(conn, 1)
    row = int(np.flatnonzero(index.example >= 0)[0])
    d = doc_detail(conn, index, int(index.doc_id[row]))
    assert d.in_sample and d.rank == row + 1
    assert d.best_example["id"] == index.example[row]
    assert d.best_example["benchmark"] == d.benchmark == index.benchmarks[index.bench[row]]
    assert d.best_rank == index.best_rank[row] and d.score == 1.0 / d.best_rank
    assert d.text.endswith(".") and d.corpus == "synthetic"
    with pytest.raises(NotFoundError):
        doc_detail(conn, index, 10**9)
    first, second, third = (int(i) for i in index.doc_id[:3])
    last = int(index.doc_id[-1])
    set_label(conn, first, "good", run_id=1, prob=float(index.prob[0]))
    set_label(conn, second, "bad", run_id=1)
    set_label(conn, third, "skip")
    set_label(conn, last, "bad")
    set_label(conn, second, "good")  # relabel
    cut = index.cut(0.1, "tokens")
    agree = label_agreement(conn, index, cut)
    # good+kept (first), good+kept (second), bad+dropped (last): 3 of 3
    assert (agree.good, agree.bad, agree.skip, agree.agree) == (2, 1, 1, 3)
    assert agree.agreement == 1.0
    set_label(conn, second, None)
    out = ws.exports_dir / "labels.jsonl"
    summary = export_labels(conn, out, run_id=1)
    assert (summary.rows, summary.good, summary.bad, summary.skip) == (3, 1, 1, 1)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["doc_id"], r["label"]) for r in rows] == [
        (first, "good"),
        (third, "skip"),
        (last, "bad"),
    ]
    assert rows[0]["prob"] == float(index.prob[0])
    with pytest.raises(UsageError, match="unknown label 'great'"):
        set_label(conn, first, "great")
    conn.execute("DELETE FROM doc_labels")
    conn.commit()


def test_cli_tradeoff_matches_the_engine(ws, conn):
    index = load_run_index(conn, 1)
    out = betr_json(
        ws, "tradeoff", "--run", "1", "--keep", "7.5%", "--params", "1B", "--tokens", "20B"
    )
    want = tradeoff(index, 0.075, "tokens", Budget.of(params=1e9, tokens=2e10))
    assert out == json.loads(json.dumps(want.to_json()))
    assert out["compute_law"]["compute"] == 1.2e20
    law = betr_json(ws, "tradeoff", "--compute", "1e23")["compute_law"]
    assert round(law["f_opt_percent"], 1) == 22.5
    docs = betr_json(ws, "tradeoff", "--run", "1", "--keep", "10", "--by", "docs")
    assert docs["kept_docs"] == 150


def test_cli_overlap_agreement_docs_labels(ws, conn):
    out = betr_json(ws, "overlap", "--run", "1", "--run", "2", "--keep", "10%", "--show", "3")
    want = overlap(load_run_index(conn, 1), load_run_index(conn, 2), 0.1)
    assert (out["overlap"], out["jaccard"]) == (want.overlap, want.jaccard)
    assert out["n_only_a"] == len(want.only_a)
    assert [d["doc_id"] for d in out["only_a"]] == want.only_a[:3].tolist()
    agree = betr_json(ws, "agreement", "--run", "1", "--top", "2")
    assert agree["sample_docs"] == 300 and len(agree["betr_over_classifier"]) == 2
    docs = betr_json(ws, "docs", "--run", "1", "--benchmark", "gsm8k", "--sort", "score")
    view = make_view(conn, load_run_index(conn, 1), Query(sort="score", benchmark="gsm8k"))
    assert docs["total"] == len(view)
    code, text, _ = betr(ws, "labels", "set", str(docs["rows"][0]["doc_id"]), "good", "--run", "1")
    assert code == 0
    path = ws.exports_dir / "labels.csv"
    code, text, err = betr(ws, "labels", "export", str(path))
    assert code == 0, err
    assert text.startswith("1 labels (1 good, 0 bad, 0 skip)")
    assert path.read_text().splitlines()[0].startswith("doc_id,ext_id,corpus,source,label")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("tradeoff", "--run", "1", "--keep", "0"), "--keep must be above 0% and at most 100%"),
        (("tradeoff", "--run", "1", "--keep", "150%"), "--keep must be above 0% and at most 100%"),
        (("tradeoff", "--params", "0", "--tokens", "1e9"), "model parameters N must be a positive"),
        (("tradeoff", "--params", "1e9", "--tokens", "-1"), "training tokens D must be a positive"),
        (("tradeoff", "--compute", "-1e20"), "compute C must be a positive number"),
        (("tradeoff", "--keep", "10%"), "--keep needs --run"),
        (("tradeoff",), "without --run, tradeoff needs a budget"),
        (("overlap", "--run", "1", "--run", "3", "--keep", "10%"), "over different corpora"),
        (("overlap", "--run", "1", "--keep", "10%"), "overlap compares exactly two runs"),
        (("tradeoff", "--run", "99"), "no run 99"),
        (("docs", "--run", "1", "--benchmark", "nope"), "'nope' is not a target benchmark"),
        (("docs", "--run", "1", "--meta", "lang"), "--meta 'lang' is not field=value"),
    ],
)
def test_cli_bad_input(ws, args, message):
    code, out, err = betr(ws, *args)
    assert code == 2 and message in err
    assert out == ""


def test_empty_and_unscored_runs_are_explained(ws):
    conn = ws.connect()
    try:
        cfg = json.dumps({"corpus": "synthetic", "benchmarks": {}, "model_id": "m"})
        for state in ("pending", "applied"):
            conn.execute(
                "INSERT INTO runs (kind, name, config, config_hash, state, corpus_id, created_at) "
                "VALUES ('betr', 'empty', ?, ?, ?, 1, 0)",
                (cfg, state, state),
            )
        conn.commit()
        pending, empty = (r[0] for r in conn.execute("SELECT id FROM runs WHERE name = 'empty'"))
    finally:
        conn.close()
    code, _, err = betr(ws, "tradeoff", "--run", str(pending))
    assert code == 2 and f"run {pending} is pending; cannot browse its documents" in err
    code, _, err = betr(ws, "docs", "--run", str(empty))
    assert code == 2 and f"run {empty} has no scored documents" in err


def test_readonly_connection_loads_without_packed_columns(ws):
    conn = ws.connect()
    try:
        conn.execute("DELETE FROM run_columns WHERE run_id = 2")
        conn.commit()
    finally:
        conn.close()
    ro = ws.connect(readonly=True)
    try:
        index = load_run_index(ro, 2)
        assert len(index) == N_DOCS
        with pytest.raises(sqlite3.OperationalError):
            ro.execute("DELETE FROM docs")
    finally:
        ro.close()
