"""`betr tradeoff --by-source`: the kept share of each source or metadata value, checked against
a plain loop over the run's probability order and the docs table."""

from __future__ import annotations

import math

import pytest

from bench.synth_run import make_synthetic_run
from engine.store.db import transaction
from engine.workspace import Workspace
from tests.helpers import betr, betr_json


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = Workspace.init(tmp_path_factory.mktemp("bysource") / "ws")
    make_synthetic_run(w, 600, n_sample=60, seed=11)
    conn = w.connect()
    with transaction(conn):  # three sources, as the import writes them; some docs lack lang
        conn.execute(
            "UPDATE docs SET source = CASE id % 3 WHEN 0 THEN 'web.jsonl:' || id "
            "WHEN 1 THEN 'books.csv row ' || id ELSE 'wiki.jsonl:' || id END"
        )
        conn.execute("UPDATE docs SET meta = NULL WHERE id % 7 = 0")
    conn.close()
    return w


def expected(ws: Workspace, keep: float, by: str, group_of) -> list[dict]:
    """Each group's docs and tokens, pool and kept, by a loop over prob_order."""
    conn = ws.connect()
    try:
        order = conn.execute(
            "SELECT o.doc_id, o.n_tokens, d.source, json_extract(d.meta, '$.lang') "
            "FROM prob_order o JOIN docs d ON d.id = o.doc_id WHERE o.run_id = 1 "
            "ORDER BY o.position"
        ).fetchall()
    finally:
        conn.close()
    total = sum(r[1] for r in order)
    if by == "docs":
        cut = math.ceil(keep * len(order))
    else:
        cut, cum = 0, 0
        while cum < keep * total:
            cum += order[cut][1]
            cut += 1
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(order):
        g = groups.setdefault(group_of(r), [0, 0, 0, 0])
        g[0] += 1
        g[2] += r[1]
        if i < cut:
            g[1] += 1
            g[3] += r[1]
    kept_total = sum(g[3] for g in groups.values())
    rows = [
        {
            "group": name,
            "docs": g[0],
            "kept_docs": g[1],
            "tokens": g[2],
            "kept_tokens": g[3],
            "survival": g[3] / g[2],
            "kept_share": g[3] / kept_total,
            "pool_share": g[2] / total,
        }
        for name, g in groups.items()
    ]
    return sorted(rows, key=lambda r: (-r["tokens"], r["group"]))


def test_json_rows_by_source(ws):
    out = betr_json(ws, "tradeoff", "--run", "1", "--keep", "10%", "--by-source")
    want = expected(ws, 0.10, "tokens", lambda r: r[2].split(":")[0].split(" row ")[0])
    assert {r["group"] for r in want} == {"web.jsonl", "books.csv", "wiki.jsonl"}
    assert out["rows"] == want
    assert out["field"] == "source" and out["n_values"] == 3 and out["n_other"] == 0
    assert out["kept_tokens"] == sum(r["kept_tokens"] for r in want)


def test_json_rows_by_a_metadata_field_and_docs(ws):
    out = betr_json(
        ws, "tradeoff", "--run", "1", "--keep", "25", "--by", "docs", "--by-source", "meta.lang"
    )
    want = expected(ws, 0.25, "docs", lambda r: r[3] if r[3] is not None else "(none)")
    assert {r["group"] for r in want} == {"en", "de", "fr", "(none)"}
    assert out["rows"] == want
    assert out["kept_docs"] == 150 and out["by"] == "docs"


def test_the_table_has_a_bar_per_source(ws):
    code, out, err = betr(ws, "tradeoff", "--run", "1", "--keep", "10%", "--by-source", "source")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith("kept share by source (3 values)")
    assert lines[2].split()[:2] == ["source", "docs"]
    body = lines[3:]
    assert sorted(line.split()[0] for line in body) == ["books.csv", "web.jsonl", "wiki.jsonl"]
    assert all("|" in line and "█" in line for line in body)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--by-source", "meta.nope"), "corpus 'synthetic' has no metadata field 'nope'"),
        (("--by-source", "lang"), "cannot group by 'lang'"),
    ],
)
def test_bad_groupings_are_refused(ws, args, message):
    code, _out, err = betr(ws, "tradeoff", "--run", "1", *args)
    assert code != 0 and message in err


def test_by_source_needs_a_run(ws):
    code, _out, err = betr(ws, "tradeoff", "--compute", "1e21", "--by-source")
    assert code != 0 and "--by-source needs --run" in err
