"""`betr select` streams its export: rows are written as they are read, in Parquet row groups
of PARQUET_BATCH rows under one schema whose `meta` type covers every row's metadata (keys
that vary from row to row, rows without any), and the Parquet file holds exactly what the
JSONL file holds."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from bench.synth_run import make_synthetic_run
from engine.api import select as select_api
from engine.store.db import transaction
from engine.workspace import Workspace


def test_parquet_in_row_groups_equals_jsonl_with_varying_meta(tmp_path, monkeypatch):
    ws = Workspace.init(tmp_path / "ws")
    run_id = make_synthetic_run(ws, 60, seed=2)
    conn = ws.connect()
    with transaction(conn):  # metadata whose keys vary, and rows without any
        for doc_id, meta in (
            (1, {"lang": "en"}),
            (5, {"lang": "de", "url": "u[x=1]"}),
            (9, {"q": 0.5}),
        ):
            conn.execute("UPDATE docs SET meta = ? WHERE id = ?", (json.dumps(meta), doc_id))
        conn.execute("UPDATE docs SET meta = NULL WHERE id IN (2, 3)")
    conn.close()
    monkeypatch.setattr(select_api, "PARQUET_BATCH", 4)
    jl = select_api.select_and_export(ws, run_id, 1.0, "docs", tmp_path / "all.jsonl")
    pa_ = select_api.select_and_export(
        ws, run_id, 1.0, "docs", tmp_path / "all.parquet", replay=0.0
    )
    assert jl.rows == pa_.rows == 60
    rows = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    by_doc = {r["doc_id"]: r["meta"] for r in rows}
    assert by_doc[5] == {"lang": "de", "url": "u[x=1]"} and by_doc[2] is None
    pf = pq.ParquetFile(tmp_path / "all.parquet")
    assert pf.metadata.num_row_groups == 15  # 60 rows in groups of 4, written as they came
    table = pf.read().to_pylist()
    assert [r["doc_id"] for r in table] == [r["doc_id"] for r in rows]
    for got, want in zip(table, rows, strict=True):
        meta = {k: v for k, v in (got.pop("meta") or {}).items() if v is not None} or None
        assert meta == want.pop("meta")
        assert got == want
