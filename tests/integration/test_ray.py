"""`betr apply --engine ray` on a local Ray instance (2 CPUs, started once per session): the
same probabilities and token counts as the local engine, resume by shard, a failed actor call
retried, cancel, and the message when Ray is not installed.

The run: 300 imported docs (GPT-NeoX token counts), a fastText classifier trained on them
with a keyword label (no embedding: the run is set to `trained` directly), applied locally;
the same docs as 3 shards (.jsonl, .jsonl.gz, .parquet).
"""

from __future__ import annotations

import builtins
import gzip
import json
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.api.jobs import queue, run_here
from engine.api.scale import ray_apply_spec
from engine.betr.classifier import train_classifier
from engine.errors import JobCancelled
from engine.exec.scale.adapter import FAULT_ENV
from engine.jobs.specs import ApplySpec
from engine.jobs.table import get_job
from engine.store import jobs as store_jobs
from engine.store import runs as store_runs
from engine.store.db import transaction
from engine.workspace import Workspace
from tests.helpers import betr, write_docs_jsonl

pytestmark = [
    pytest.mark.usefixtures("olmo_wheel"),
    pytest.mark.xdist_group("ray"),
    pytest.mark.slow,
]

N_DOCS = 300


@pytest.fixture(scope="session")
def fault_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ray-faults")


@pytest.fixture(scope="session")
def ray_local(fault_dir):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    import os

    os.environ[FAULT_ENV] = str(fault_dir)  # inherited by the Ray workers
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def applied(tmp_path_factory, ray_local):
    """(workspace, run id, shard paths, {ext_id: (local prob, n_tokens)})."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from engine.api.imports import import_docs_spec

    root = tmp_path_factory.mktemp("ray-ws")
    ws = Workspace.init(root / "ws")
    docs_file = write_docs_jsonl(root / "docs.jsonl", N_DOCS, seed=3, words=40)
    run_here(ws, queue(ws, import_docs_spec(ws, corpus="c", paths=[str(docs_file)])))
    records = [json.loads(line) for line in docs_file.read_text().splitlines() if line.strip()]
    texts = [r["text"] for r in records]
    labels = [int(i % 3 == 0 or "the" in t.split()[:3]) for i, t in enumerate(texts)]
    conn = ws.connect()
    try:
        corpus_id = conn.execute("SELECT id FROM corpora WHERE name = 'c'").fetchone()[0]
        run_id = store_runs.create_run(conn, "betr", "ray test", {"k": 1}, "h-ray", corpus_id, None)
        info = train_classifier(
            texts, labels, ws.root / "models" / "ray.bin", {"bucket": 20000, "dim": 16}, threads=1
        )
        with transaction(conn):
            store_runs.replace_artifact(conn, run_id, "fasttext", "models/ray.bin", info.sha256)
            store_runs.set_state(conn, run_id, "trained")
    finally:
        conn.close()
    run_here(ws, queue(ws, ApplySpec(run_id=run_id)))
    conn = ws.connect(readonly=True)
    try:
        rows = conn.execute(
            "SELECT d.ext_id, p.prob, d.n_tokens FROM doc_probs p JOIN docs d ON d.id = p.doc_id "
            "WHERE p.run_id = ?",
            (run_id,),
        ).fetchall()
    finally:
        conn.close()
    expected = {r[0]: (r[1], r[2]) for r in rows}
    assert len(expected) == N_DOCS
    shards_dir = root / "shards"
    shards_dir.mkdir()
    a, b, c = records[:100], records[100:220], records[220:]
    (shards_dir / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in a))
    with gzip.open(shards_dir / "b.jsonl.gz", "wt") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in b))
    pq.write_table(pa.Table.from_pylist(c), shards_dir / "c.parquet")
    shards = [shards_dir / "a.jsonl", shards_dir / "b.jsonl.gz", shards_dir / "c.parquet"]
    return ws, run_id, shards, expected


def ray_apply(ws, run_id, shards, out, **kw):
    """(job id, result) of a Ray apply run here (the session's Ray instance is used)."""
    spec = ray_apply_spec(ws, run_id, inputs=[str(s) for s in shards], out_dir=str(out), **kw)
    job_id = queue(ws, spec)
    return job_id, run_here(ws, job_id)


def job_row(ws, job_id):
    conn = ws.connect(readonly=True)
    try:
        return get_job(conn, job_id)
    finally:
        conn.close()


def read_out(out: Path) -> dict[str, tuple[float, int, str]]:
    import pyarrow.parquet as pq

    got = {}
    for f in sorted(out.glob("*.parquet")):
        t = pq.read_table(f)
        assert t.column_names == ["id", "prob", "n_tokens", "shard"]
        assert str(t.schema.field("prob").type) == "double"
        for r in t.to_pylist():
            assert r["id"] not in got
            got[r["id"]] = (r["prob"], r["n_tokens"], r["shard"])
    return got


def test_ray_apply_equals_local(applied, tmp_path):
    ws, run_id, shards, expected = applied
    out = tmp_path / "out"
    job_id, result = ray_apply(ws, run_id, shards, out, batch_size=64)
    assert result["shards"] == 3 and result["rows_written"] == N_DOCS
    got = read_out(out)
    assert set(got) == set(expected)
    for ext_id, (prob, n_tokens) in expected.items():
        assert got[ext_id][0] == pytest.approx(prob, abs=1e-12)
        assert got[ext_id][1] == n_tokens
    assert {got[k][2] for k in got} == {str(s) for s in shards}
    # each shard file holds its rows in input order
    import pyarrow.parquet as pq

    first = pq.read_table(next(out.glob("a-*.parquet"))).column("id").to_pylist()
    assert first == [json.loads(x)["id"] for x in shards[0].read_text().splitlines()]
    job = job_row(ws, job_id)
    assert (job.state, job.done, job.total, job.unit) == ("done", N_DOCS, N_DOCS, "docs")


def test_rerun_skips_written_shards(applied, tmp_path):
    ws, run_id, shards, _expected = applied
    out = tmp_path / "out"
    ray_apply(ws, run_id, shards, out)
    files = sorted(out.glob("*.parquet"))
    mtimes = {f: f.stat().st_mtime_ns for f in files}
    _job, again = ray_apply(ws, run_id, shards, out)
    assert (again["shards_skipped"], again["rows_written"], again["rows"]) == (3, 0, N_DOCS)
    b_file = next(out.glob("b-*.parquet"))
    b_file.unlink()
    _job, third = ray_apply(ws, run_id, shards, out)
    assert (third["shards_skipped"], third["rows_written"]) == (2, 120)
    for f in files:
        if f != b_file:
            assert f.stat().st_mtime_ns == mtimes[f]
    assert not list(out.glob("*.tmp"))


def test_failed_actor_call_is_retried(applied, tmp_path, fault_dir):
    ws, run_id, shards, expected = applied
    (fault_dir / "fail-once").write_text("")
    job_id, result = ray_apply(ws, run_id, shards, tmp_path / "out", batch_size=50)
    assert not (fault_dir / "fail-once").exists()  # the failure happened
    assert result["rows_written"] == N_DOCS
    assert set(read_out(tmp_path / "out")) == set(expected)
    assert job_row(ws, job_id).state == "done"


def test_cancel_stops_within_seconds(applied, tmp_path, fault_dir):
    ws, run_id, shards, _expected = applied
    spec = ray_apply_spec(
        ws, run_id, inputs=[str(s) for s in shards], out_dir=str(tmp_path / "out"), batch_size=10
    )
    job_id = queue(ws, spec)
    (fault_dir / "delay").write_text("0.2")  # 30 batches x 0.2 s / 2 actors: ~3 s of work
    outcome = {}

    def run() -> None:
        try:
            run_here(ws, job_id)
        except JobCancelled as exc:  # run_here re-raises after marking the job
            outcome["cancelled"] = exc

    thread = threading.Thread(target=run)
    try:
        thread.start()
        deadline = time.monotonic() + 60
        while job_row(ws, job_id).done == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        conn = ws.connect()
        try:
            store_jobs.request_cancel(conn, job_id)
        finally:
            conn.close()
        t0 = time.monotonic()
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert time.monotonic() - t0 < 5
    finally:
        (fault_dir / "delay").unlink()
        thread.join()
    job = job_row(ws, job_id)
    assert job.state == "cancelled"
    assert 0 < job.done < N_DOCS


def test_without_ray_the_cli_says_how_to_install(applied, tmp_path, monkeypatch):
    ws, run_id, shards, _expected = applied
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    for mod in [m for m in sys.modules if m == "ray" or m.startswith("ray.")]:
        monkeypatch.delitem(sys.modules, mod)
    args = ["apply", "--run", str(run_id), "--engine", "ray", "--input", str(shards[0])]
    code, _, err = betr(ws, *args, "--out", str(tmp_path / "o"))
    assert code != 0
    assert "pip install 'betr-tui[ray]'" in err


def test_cli_ray_needs_input_and_out(applied, tmp_path):
    ws, run_id, _shards, _expected = applied
    code, _, err = betr(ws, "apply", "--run", str(run_id), "--engine", "ray")
    assert code != 0
    assert "--input" in err
    code, _, err = betr(ws, "apply", "--run", str(run_id), "--out", str(tmp_path))
    assert code != 0
    assert "--engine ray" in err


def test_ray_embed_equals_the_local_embedder(applied, tmp_path):
    """`betr embed --engine ray` (bundled MiniLM, one CPU actor): one Parquet file per shard,
    ids in input order, the same unit vectors as the local operator (float32, to 1e-5: torch
    on CPU batches them differently)."""
    import numpy as np
    import pyarrow.parquet as pq

    from engine.api.scale import ray_embed_spec
    from engine.ops.embed import EmbedTexts

    ws, _run_id, shards, _expected = applied
    records = [json.loads(x) for x in shards[0].read_text().splitlines()[:24]]
    shard = tmp_path / "few.jsonl"
    shard.write_text("".join(json.dumps(r) + "\n" for r in records))
    spec = ray_embed_spec(
        inputs=[str(shard)], out_dir=str(tmp_path / "emb"), device="cpu", batch_size=8
    )
    job_id = queue(ws, spec)
    result = run_here(ws, job_id)
    assert result["rows_written"] == len(records)
    (out,) = sorted((tmp_path / "emb").glob("*.parquet"))
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == [r["id"] for r in records]
    got = np.asarray(table.column("vector").to_pylist(), dtype=np.float32)
    local = EmbedTexts(None, device="cpu", batch_size=8)({"text": [r["text"] for r in records]})
    want = np.asarray(local["vector"], dtype=np.float32)
    assert got.shape == want.shape == (len(records), 384)
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert job_row(ws, job_id).state == "done"


def test_bad_shard_data_is_exit_2_naming_shard_line_and_field(applied, tmp_path):
    """A truncated JSON line, a record without `text`, a corrupt .jsonl.gz: exit 2 at once with
    the shard, the line and the field (bad data is not retried; no Ray traceback); --out naming
    a file is refused (issue 19.9)."""
    ws, run_id, shards, _expected = applied
    good = shards[0].read_text().splitlines()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "truncated.jsonl").write_text("\n".join([*good[:5], good[5][:40], *good[6:9]]) + "\n")
    no_text = [
        json.dumps({k: v for k, v in json.loads(x).items() if k != "text"}) for x in good[3:4]
    ]
    (bad / "notext.jsonl").write_text("\n".join([*good[:3], *no_text, *good[4:8]]) + "\n")
    raw = gzip.compress(("\n".join(good) + "\n").encode())
    (bad / "corrupt.jsonl.gz").write_bytes(raw[: len(raw) // 2])
    cases = {
        "truncated.jsonl": ("truncated.jsonl:6", "malformed JSON"),
        "notext.jsonl": ("notext.jsonl:4", "field 'text'"),
        "corrupt.jsonl.gz": ("corrupt.jsonl.gz", "truncated or corrupt"),
    }
    for name, (where, what) in cases.items():
        out = tmp_path / f"out-{name}"
        code, _, err = betr(
            ws,
            "apply",
            "--run",
            str(run_id),
            "--engine",
            "ray",
            "--input",
            str(bad / name),
            "--out",
            str(out),
        )
        assert code == 2, (name, err)
        assert where in err and what in err, (name, err)
        assert "Traceback" not in err and "RayTaskError" not in err, (name, err)
        assert not out.exists() or not list(out.glob("*.parquet")), name  # nothing written
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    code, _, err = betr(
        ws,
        "apply",
        "--run",
        str(run_id),
        "--engine",
        "ray",
        "--input",
        str(shards[0]),
        "--out",
        str(a_file),
    )
    assert code == 2 and "is a file" in err, err
    assert a_file.read_text() == "x"
