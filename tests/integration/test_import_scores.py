"""`betr import scores DIR --run R` (engine.jobs.kinds.import_scores) and the exact keep
threshold over shards (`betr threshold`, engine.api.scale_threshold), on a generated applied run
whose probabilities are written out as Parquet shards in the shape a Ray apply writes (id,
prob, n_tokens, shard): the import round-trips, unknown ids write nothing, and the threshold at
scale equals `betr select`."""

from __future__ import annotations

import contextlib
import itertools
import json
import sqlite3
from pathlib import Path

import pytest

from bench.synth_run import make_synthetic_run
from engine.api.scale import scale_threshold
from engine.api.select import select
from engine.store import runs as store_runs
from engine.store import scores
from engine.store.db import transaction
from engine.workspace import Workspace
from tests.helpers import betr, betr_json

N_DOCS = 1200
KEEPS = ("0.05%", "1%", "7%", "10%", "33.3%", "50%", "90%", "100%")
BOUNDS = (0, 1, 400, 400, 1000, N_DOCS)  # a one-doc shard and an empty one


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = Workspace.init(tmp_path_factory.mktemp("import-scores") / "ws")
    make_synthetic_run(w, N_DOCS, n_sample=200, seed=3, prob_decimals=2)  # many ties
    make_synthetic_run(w, N_DOCS, n_sample=200, seed=4, targets="other")
    return w


def snapshot(conn: sqlite3.Connection, run_id: int) -> dict:
    q = {
        "doc_probs": "SELECT doc_id, prob FROM doc_probs WHERE run_id = ? ORDER BY doc_id",
        "prob_order": "SELECT position, doc_id, prob, n_tokens, cum_tokens FROM prob_order "
        "WHERE run_id = ? ORDER BY position",
        "run_columns": "SELECT name, dtype, data FROM run_columns WHERE run_id = ? ORDER BY name",
    }
    return {k: [tuple(r) for r in conn.execute(sql, (run_id,))] for k, sql in q.items()}


def write_shards(conn, run_id: int, out: Path, *, extra_ids=()) -> Path:
    """The run's probabilities as Ray apply output: one Parquet file per input shard, rows in
    input (doc id) order, files named so that their sort is not the input order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = conn.execute(
        "SELECT d.ext_id, p.prob, d.n_tokens FROM doc_probs p JOIN docs d ON d.id = p.doc_id "
        "WHERE p.run_id = ? ORDER BY d.id",
        (run_id,),
    ).fetchall()
    out.mkdir(parents=True, exist_ok=True)
    for i, (lo, hi) in enumerate(itertools.pairwise(BOUNDS)):
        part = rows[lo:hi] + ([(e, 0.5, 7) for e in extra_ids] if i == 3 else [])
        pq.write_table(
            pa.table(
                {
                    "id": pa.array([r[0] for r in part], pa.string()),
                    "prob": pa.array([r[1] for r in part], pa.float64()),
                    "n_tokens": pa.array([r[2] for r in part], pa.int64()),
                    "shard": pa.array([f"/data/in/part-{i:02d}.jsonl"] * len(part), pa.string()),
                }
            ),
            out / f"part-{i:02d}-{'zyxwv'[i]}.parquet",
        )
    return out


@pytest.fixture(scope="module")
def shards(ws, tmp_path_factory):
    with contextlib.closing(ws.connect()) as conn:
        return write_shards(conn, 1, tmp_path_factory.mktemp("ray-out") / "run1")


def test_import_round_trips(ws, shards):
    conn = ws.connect()
    try:
        before = snapshot(conn, 1)
        sel_before = {k: select(conn, 1, float(k.rstrip("%")) / 100).as_dict() for k in KEEPS}
        with transaction(conn):  # back to a trained run with no probabilities
            scores.clear_results(conn, 1)
            store_runs.set_state(conn, 1, "trained")
        assert scores.count_probs(conn, 1) == 0
    finally:
        conn.close()
    result = betr_json(ws, "import", "scores", str(shards), "--run", "1")
    assert result["docs"] == N_DOCS and result["shards"] == len(BOUNDS) - 1
    assert result["token_mismatches"] == 0
    with contextlib.closing(ws.connect()) as conn:
        assert snapshot(conn, 1) == before  # doc_probs, prob order and packed columns
        assert store_runs.get_run(conn, 1)["state"] == "applied"
        assert conn.execute("SELECT COUNT(*) FROM apply_staging").fetchone()[0] == 0
        for keep, want in sel_before.items():
            assert select(conn, 1, float(keep.rstrip("%")) / 100).as_dict() == want
    out = Path(str(shards) + "-sel.jsonl")
    got = betr_json(ws, "select", "--run", "1", "--keep", "10%", "--out", str(out))
    assert got["kept_docs"] == sel_before["10%"]["kept_docs"]
    kept = [json.loads(line)["doc_id"] for line in out.read_text().splitlines()]
    assert kept == [r[1] for r in before["prob_order"][: got["kept_docs"]]]


def test_import_replaces_an_applied_runs_probabilities(ws, shards):
    betr_json(ws, "import", "scores", str(shards), "--run", "2")
    with contextlib.closing(ws.connect()) as conn:
        one, two = snapshot(conn, 1), snapshot(conn, 2)
        assert two["doc_probs"] == one["doc_probs"]
        assert two["prob_order"] == one["prob_order"]


def test_unknown_ids_write_nothing(ws, tmp_path):
    with contextlib.closing(ws.connect()) as conn:
        bad = write_shards(conn, 1, tmp_path / "bad", extra_ids=("nope-1", "nope-2"))
        before = snapshot(conn, 1)
        jobs_before = conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    code, _out, err = betr(ws, "import", "scores", str(bad), "--run", "1")
    assert code != 0
    assert "part-03-w.parquet" in err and "'nope-1'" in err and "2 of its 602 ids" in err
    with contextlib.closing(ws.connect()) as conn:
        assert snapshot(conn, 1) == before
        assert conn.execute("SELECT COUNT(*) FROM apply_staging").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == jobs_before + 1


def test_a_directory_without_shards_is_refused(ws, tmp_path):
    code, _out, err = betr(ws, "import", "scores", str(tmp_path), "--run", "1")
    assert code == 2 and "no Parquet shards" in err
    code, _out, err = betr(ws, "import", "scores", str(tmp_path / "none"), "--run", "1")
    assert code == 2 and "no such directory" in err


@pytest.mark.parametrize("by", ["tokens", "docs"])
def test_threshold_at_scale_equals_select(ws, shards, by):
    with contextlib.closing(ws.connect(readonly=True)) as conn:
        for keep in KEEPS:
            frac = float(keep.rstrip("%")) / 100
            want = select(conn, 1, frac, by)
            for run_id in (1, None):  # ties by doc id, or by input order (the same here)
                got = scale_threshold(str(shards), frac, by, workspace=ws, run_id=run_id)
                assert (got.threshold, got.kept_docs, got.kept_tokens) == (
                    want.threshold,
                    want.position,
                    want.kept_tokens,
                ), (keep, run_id)
                assert (got.total_docs, got.total_tokens) == (
                    want.total_docs,
                    want.total_tokens,
                )
    got = betr_json(ws, "threshold", "--scores", str(shards), "--keep", "10%", "--by", by)
    with contextlib.closing(ws.connect(readonly=True)) as conn:
        want = select(conn, 1, 0.10, by)
    assert (got["threshold"], got["kept_docs"], got["kept_tokens"]) == (
        want.threshold,
        want.position,
        want.kept_tokens,
    )


@pytest.mark.xdist_group("ray")
@pytest.mark.slow
def test_threshold_on_ray_equals_local(ws, shards):
    """One Ray-backed run (both passes as Ray tasks); shares a Ray instance already started
    in this worker, else starts one with 2 CPUs for this test."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for keep, by in (("10%", "tokens"), ("33.3%", "docs")):
            frac = float(keep.rstrip("%")) / 100
            on_ray = scale_threshold(str(shards), frac, by, workspace=ws, run_id=1, engine="ray")
            local = scale_threshold(str(shards), frac, by, workspace=ws, run_id=1)
            assert on_ray == local
    finally:
        if started:
            ray.shutdown()


def test_a_failed_import_resumes_after_its_last_chunk(ws, shards, monkeypatch):
    from engine.api import jobs
    from engine.api.scale import import_scores_spec
    from engine.jobs.kinds.scale import import_scores

    with contextlib.closing(ws.connect()) as conn:
        want = snapshot(conn, 1)
    calls = {"n": 0}
    real = scores.stage_probs

    def dies_at_the_fifth_chunk(conn, rows):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("killed")
        return real(conn, rows)

    monkeypatch.setattr(import_scores, "CHUNK", 100)
    monkeypatch.setattr(import_scores.scores, "stage_probs", dies_at_the_fifth_chunk)
    job_id = jobs.queue(ws, import_scores_spec(ws, 1, str(shards)))
    with contextlib.suppress(Exception):
        jobs.run_here(ws, job_id)
    assert jobs.job(ws, job_id).state == "failed"
    with contextlib.closing(ws.connect()) as conn:
        # shard 0 (1 doc) and three chunks of shard 1 were committed
        assert scores.count_staged(conn, 1, job_id) == 301
        assert snapshot(conn, 1) == want  # the run's results stay whole until the swap
    jobs.resume(ws, job_id, detach=False)  # queued again, run here
    jobs.run_here(ws, job_id)
    assert jobs.job(ws, job_id).state == "done"
    assert calls["n"] == 14  # 4 committed + 1 failed, then the 9 left: none staged twice
    with contextlib.closing(ws.connect()) as conn:
        assert snapshot(conn, 1) == want
        assert conn.execute("SELECT COUNT(*) FROM apply_staging").fetchone()[0] == 0
