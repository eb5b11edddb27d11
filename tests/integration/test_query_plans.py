"""No statement a job runs once per chunk costs time proportional to the pool: every
statement the import, apply, contamination and select paths run more than once is traced
(with its values bound) and its EXPLAIN QUERY PLAN may not scan a table, sort in a temporary
B-tree, or search an index by the corpus or run alone (a scan of the whole corpus in
disguise). A chunked job whose chunks each read the whole corpus costs O(n^2): at 1M docs
that was the apply's chunk read (`docs_between`, keyed by corpus_id then sorted)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from bench.synth_run import make_synthetic_run
from engine.store import db
from engine.store.db import transaction
from engine.workspace import Workspace
from tests.helpers import write_docs_jsonl

N_DOCS = 3000


def shape(sql: str) -> str:
    """The statement with its values taken out, to count how often one shape runs."""
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(?:\.\d+)?(?:e[-+]?\d+)?\b", "?", sql)
    return re.sub(r"\s+", " ", re.sub(r"\(\s*\?(?:\s*,\s*\?)*\s*\)", "(?)", sql)).strip()


# the tables with a row per doc of the pool (or more)
POOL_TABLES = {
    "docs",
    "doc_probs",
    "prob_order",
    "run_sample",
    "apply_staging",
    "contamination_hits",
    "embeddings",
    "doc_labels",
}
_NOT_ALIAS = {"WHERE", "ON", "JOIN", "LEFT", "INNER", "CROSS", "ORDER", "GROUP", "LIMIT", "USING"}


def tables_by_name(sql: str) -> dict[str, str]:
    """{name or alias the plan shows: table} for the tables the statement reads."""
    out = {}
    for table, alias in re.findall(r"(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?", sql, re.I):
        out[table] = table
        if alias and alias.upper() not in _NOT_ALIAS:
            out[alias] = table
    return out


def whole_pool_steps(sql: str, detail: list[str]) -> list[str]:
    """The plan steps that read every row of a pool-sized table, or every row of a corpus or
    run through an index keyed by it alone."""
    names = tables_by_name(sql)
    bad = []
    for step in detail:
        m = re.match(r"(SCAN|SEARCH) (\w+)", step)
        if not m or names.get(m.group(2), m.group(2)) not in POOL_TABLES:
            continue
        if m.group(1) == "SCAN" or re.search(r"\((corpus_id|run_id)=\?\)$", step):
            bad.append(step)
    return bad


class Tracer:
    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.statements: list[str] = []
        real = db.connect

        def tracing_connect(*args, **kwargs):
            conn = real(*args, **kwargs)
            conn.set_trace_callback(self.statements.append)
            return conn

        monkeypatch.setattr(db, "connect", tracing_connect)

    def repeated(self) -> dict[str, str]:
        """shape -> one traced statement, for the shapes run at least twice."""
        seen: dict[str, list[str]] = defaultdict(list)
        for sql in self.statements:
            head = sql.lstrip().split(None, 1)[0].upper()
            if head in ("SELECT", "UPDATE", "DELETE", "INSERT", "WITH") and "docs_fts_" not in sql:
                seen[shape(sql)].append(sql)
        return {k: v[-1] for k, v in seen.items() if len(v) >= 2}

    def offenders(self, ws: Workspace) -> dict[str, list[str]]:
        conn = ws.connect(readonly=True)
        try:
            out = {}
            for sql in self.repeated().values():
                detail = [r["detail"] for r in conn.execute("EXPLAIN QUERY PLAN " + sql)]
                if bad := whole_pool_steps(sql, detail):
                    out[sql[:300]] = bad
            return out
        finally:
            conn.close()


def classifier_for(ws: Workspace, run_id: int, tmp: Path) -> None:
    """A small fastText model trained on the run's own docs, registered as its classifier."""
    from engine.betr.classifier import train_classifier
    from engine.store import runs as store_runs

    conn = ws.connect()
    try:
        rows = conn.execute("SELECT id, text FROM docs ORDER BY id LIMIT 400").fetchall()
        path = ws.root / "models" / f"run-{run_id}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        labels = [int(i % 5 == 0) for i, _ in enumerate(rows)]
        info = train_classifier([r["text"] for r in rows], labels, path, {"bucket": 10_000})
        with transaction(conn):
            store_runs.replace_artifact(
                conn, run_id, "fasttext", str(path.relative_to(ws.root)), info.sha256
            )
    finally:
        conn.close()


def test_the_chunked_paths_never_read_the_whole_pool_per_chunk(tmp_path, monkeypatch):
    from engine.api.contamination import plan_check
    from engine.api.imports import import_docs_spec
    from engine.api.jobs import queue, run_here
    from engine.api.select import select_and_export
    from engine.jobs.kinds import betr as betr_kind
    from engine.jobs.kinds import contamination as contamination_kind
    from engine.jobs.kinds import import_docs as import_kind
    from engine.jobs.specs import ApplySpec

    ws = Workspace.init(tmp_path / "ws")
    run_id = make_synthetic_run(ws, N_DOCS, seed=1)  # a corpus before the imported one
    classifier_for(ws, run_id, tmp_path)
    for module, name in (
        (import_kind, "CHUNK_DOCS"),
        (betr_kind, "APPLY_CHUNK"),
        (contamination_kind, "CHUNK_DOCS"),
    ):
        monkeypatch.setattr(module, name, 500)  # several chunks from a few thousand docs
    src = write_docs_jsonl(tmp_path / "more.jsonl", 1500, seed=2, words=20)

    tracer = Tracer(monkeypatch)
    found: dict[str, dict[str, list[str]]] = {}
    shapes: set[str] = set()

    def traced(name: str, fn) -> None:
        tracer.statements.clear()
        fn()
        shapes.update(tracer.repeated())
        if offenders := tracer.offenders(ws):
            found[name] = offenders

    traced(
        "import",
        lambda: run_here(ws, queue(ws, import_docs_spec(ws, corpus="more", paths=[str(src)]))),
    )
    traced("apply", lambda: run_here(ws, queue(ws, ApplySpec(run_id=run_id, workers=1))))
    plan = plan_check(ws, run_id, keep=0.5, by="docs", workers=1)
    assert plan.spec is not None
    traced("contamination", lambda: run_here(ws, queue(ws, plan.spec)))
    traced("select", lambda: select_and_export(ws, run_id, 0.5, "tokens", tmp_path / "k.jsonl"))
    monkeypatch.undo()

    # the paths ran chunk by chunk: their per-chunk reads are among the repeated statements
    assert any("FROM docs" in s and "text" in s for s in shapes), shapes
    assert any("INSERT INTO docs" in s for s in shapes)
    assert found == {}


SLOW = "SELECT id, text FROM docs WHERE corpus_id = 1 AND id > 0 AND id <= 500 ORDER BY id"


def test_the_rule_catches_a_chunk_read_keyed_by_the_corpus_alone(tmp_path):
    """The rule itself: the read the apply used before (corpus_id = ? AND id BETWEEN, which
    SQLite answers from the (corpus_id, ext_id) index, every entry of the corpus, then sorts)
    is caught; the same read by rowid range is not."""
    ws = Workspace.init(tmp_path / "ws")
    conn = ws.connect(readonly=True)
    try:

        def plan(sql: str) -> list[str]:
            return [r["detail"] for r in conn.execute("EXPLAIN QUERY PLAN " + sql)]

        before = plan(SLOW)
        assert whole_pool_steps(SLOW, before), before
        from engine.store.docs import DOCS_BETWEEN

        fast = DOCS_BETWEEN.replace("?", "1", 1).replace("?", "0", 1).replace("?", "500", 1)
        after = plan(fast)
        assert whole_pool_steps(fast, after) == [], after
        # and a scan through an alias is seen as a scan of its table
        join = "SELECT o.doc_id FROM prob_order o JOIN docs d ON d.id = o.doc_id"
        assert whole_pool_steps(join, plan(join)) == ["SCAN o"]
    finally:
        conn.close()
