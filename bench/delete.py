"""Deleting a corpus: throughput, cost growth, and how long other writers wait meanwhile.

Pipeline: `engine.api.catalog.delete_corpus` (bounded transactions, every row found through an
index). Baseline: SQLite's own cascade, `DELETE FROM corpora WHERE id = ?` in one transaction,
on an identical copy of the workspace (same rows, same indexes), measured in the same run.
While each runs, a second connection writes a row every 20 ms; its longest wait is the time a
concurrent import or job would stall. Optional: the same one-statement delete on schema v3
(without the foreign-key indexes of migration 4), which scans the child tables once per doc.

The workspace: `--docs` synthetic docs with one applied run over them (bench/synth_run.py),
plus a small second corpus that must survive.

    python -m bench.delete [--docs 50000] [--v3-docs 5000]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.synth_run import make_synthetic_run
from engine.api.catalog import delete_corpus
from engine.store.db import BUSY_TIMEOUT_MS
from engine.workspace import Workspace

V3_DROPPED = (
    "run_sample_doc",
    "run_sample_example",
    "run_sample_benchmark",
    "doc_probs_doc",
    "target_set_members_benchmark",
    "runs_corpus",
    "runs_target_set",
    "jobs_run",
    "corpora_job",
    "artifacts_run",
    "doc_labels_run",
)


def build(root: Path, n_docs: int, kept_docs: int = 1000) -> Workspace:
    ws = Workspace.init(root)
    make_synthetic_run(ws, n_docs, seed=1)
    make_synthetic_run(ws, kept_docs, seed=2, corpus="kept", targets="kept-targets")
    conn = ws.connect()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return ws


def copy(ws: Workspace, root: Path) -> Workspace:
    shutil.copytree(ws.root, root)
    return Workspace(root)


class WriterProbe(threading.Thread):
    """Writes one row every 20 ms from its own connection; records each write's latency."""

    def __init__(self, ws: Workspace):
        super().__init__(daemon=True)
        self.ws = ws
        self.stop = threading.Event()
        self.waits: list[float] = []

    def run(self) -> None:
        conn = sqlite3.connect(self.ws.db_path, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS * 10}")
        i = 0
        while not self.stop.wait(0.02):
            t0 = time.perf_counter()
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('probe', ?)", (str(i),))
            self.waits.append(time.perf_counter() - t0)
            i += 1
        conn.close()


def timed(ws: Workspace, delete) -> tuple[float, float, float]:
    """(seconds, longest writer wait, median writer wait) for `delete()`."""
    probe = WriterProbe(ws)
    probe.start()
    t0 = time.perf_counter()
    delete()
    elapsed = time.perf_counter() - t0
    probe.stop.set()
    probe.join()
    waits = probe.waits or [0.0]
    return elapsed, max(waits), statistics.median(waits)


def one_statement(ws: Workspace) -> None:
    conn = sqlite3.connect(ws.db_path, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM corpora WHERE name = 'synthetic'")
    conn.execute("COMMIT")
    conn.close()


def check_survivor(ws: Workspace) -> None:
    conn = ws.connect(readonly=True)
    names = [r[0] for r in conn.execute("SELECT name FROM corpora")]
    n_docs = conn.execute("SELECT COUNT(*) FROM docs").fetchone()[0]
    conn.close()
    assert names == ["kept"] and n_docs == 1000, (names, n_docs)


def measure(tmp: Path, n_docs: int) -> dict[str, float]:
    ws = build(tmp / f"ws-{n_docs}", n_docs)
    base_ws = copy(ws, tmp / f"base-{n_docs}")
    ours = timed(ws, lambda: delete_corpus(ws, "synthetic"))
    base = timed(base_ws, lambda: one_statement(base_ws))
    check_survivor(ws)
    check_survivor(base_ws)
    return {"ours": ours, "base": base}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=50_000)
    ap.add_argument("--v3-docs", type=int, default=5_000, help="0 skips the schema v3 baseline")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="betr-bench-delete-") as tmp:
        tmp = Path(tmp)
        small = max(1000, args.docs // 5)
        for n in (small, args.docs):
            r = measure(tmp, n)
            (t_ours, max_ours, med_ours), (t_base, max_base, _) = r["ours"], r["base"]
            print(
                f"{n:>9,} docs + 1 applied run: bounded delete {t_ours:6.2f} s "
                f"({n / t_ours:,.0f} docs/s), longest writer wait {max_ours * 1000:.0f} ms "
                f"(median {med_ours * 1000:.1f} ms) | one-statement cascade {t_base:6.2f} s "
                f"({n / t_base:,.0f} docs/s), longest writer wait {max_base * 1000:.0f} ms | "
                f"throughput ratio {t_base / t_ours:.2f}x of baseline, writers wait "
                f"{max_base / max(max_ours, 1e-6):.0f}x less"
            )
        if args.v3_docs:
            # as reported in issue #8: a small corpus deleted next to a large applied run
            ws = build(tmp / "v3", args.v3_docs, kept_docs=args.docs)
            conn = sqlite3.connect(ws.db_path, isolation_level=None)
            for name in V3_DROPPED:
                conn.execute(f"DROP INDEX {name}")
            conn.close()
            t_v3, _, _ = timed(ws, lambda: one_statement(ws))
            print(
                f"{args.v3_docs:>9,} docs beside a {args.docs:,}-doc applied run, schema v3 (no "
                f"foreign-key indexes), one statement: {t_v3:.2f} s ({args.v3_docs / t_v3:,.0f} "
                "docs/s): every deleted doc scans doc_probs and run_sample"
            )


if __name__ == "__main__":
    main()
