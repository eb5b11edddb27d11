"""Migration 8 on a workspace written by the previous schema: a proxy's old `acc_norm` (per
character of " " + choice) becomes `acc_per_char`, lm-eval's acc_norm and acc_bytes are
recomputed from the stored per-item log-likelihoods where those reproduce the stored row, an
imported acc_norm keeps its name, and the rBridge score's per-trace-mean bpb becomes
bpb_prompted."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import numpy as np
import pytest

from engine.store import db
from engine.workspace import Workspace

# (choices, log-likelihoods, gold): each normalisation picks differently somewhere
ITEMS = [
    (["ééé", "a", "abcdefgh", "abcd"], [-3.4, -1.9, -7.0, -3.7], 2),
    (["0123456789", "ab"], [-4.0, -1.0], 1),
    (["x", "yy"], [-1.0, -1.5], 0),
]


def accuracy(items, length) -> float:
    """mean over items of [argmax_c l_c / length(choice_c) == gold] (first maximum on ties)."""
    return float(
        np.mean(
            [int(np.argmax(np.array(ll) / [length(c) for c in ch])) == g for ch, ll, g in items]
        )
    )


def old_workspace(root):
    """The folder of a workspace at schema 7 holding what betr wrote before migration 8."""
    root.mkdir()
    path = root / db.DB_FILENAME
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    for number, script in enumerate(db.MIGRATIONS[:7], 1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    ex = conn.execute
    ex("INSERT INTO benchmarks (id, name, format, created_at) VALUES (1, 'mc', 'mc', 0)")
    for i, (choices, _, _) in enumerate(ITEMS, 1):
        ex(
            "INSERT INTO examples (id, benchmark_id, idx, ext_id, question, choices, answer, text) "
            "VALUES (?, 1, ?, ?, 'q', ?, '', 'q')",
            (i, i, f"e{i}", json.dumps(choices)),
        )
    for pid in (1, 2):
        ex(
            "INSERT INTO proxies (id, name, path, sha256, dataset, tokens, created_at) "
            "VALUES (?, ?, '/x', 'sha', 'mix', ?, 0)",
            (pid, f"p{pid}", 1000 * pid),
        )
        for i, (choices, ll, gold) in enumerate(ITEMS, 1):
            ex(
                "INSERT INTO mc_items (proxy_id, example_id, gold, logliks, n_chars) "
                "VALUES (?, ?, ?, ?, ?)",
                (pid, i, gold, json.dumps(ll), json.dumps([len(" " + c) for c in choices])),
            )
    # proxy 1's rows were computed over all 3 items, proxy 2's over the first 2 (--limit 2)
    per_char = lambda c: len(" " + c)  # noqa: E731
    for pid, items in ((1, ITEMS), (2, ITEMS[:2])):
        for metric, value in (
            ("acc", accuracy(items, lambda c: 1)),
            ("acc_norm", accuracy(items, per_char)),
            ("confidence", 0.5),
        ):
            ex(
                "INSERT INTO eval_results (run, tokens, stage, benchmark, category, metric, value, "
                "source, proxy_id, created_at) VALUES ('mix', ?, 'PT', 'mc', 'science', ?, ?, ?, "
                "?, 0)",
                (1000 * pid, metric, value, f"proxy:{pid}", pid),
            )
    ex("INSERT INTO result_imports (id, format, created_at) VALUES (1, 'lm-eval', 0)")
    ex(
        "INSERT INTO eval_results (run, benchmark, metric, value, source, import_id, created_at) "
        "VALUES ('pythia-160m', 'piqa', 'acc_norm', 0.61, 'r.json', 1, 0)"
    )
    ex(
        "INSERT INTO eval_results (run, benchmark, metric, value, source, proxy_id, created_at) "
        "VALUES ('mix', 'gsm8k', 'bpb', 1.25, 'proxy:1', 1, 0)"
    )
    ex(
        "INSERT INTO rbridge_scores (id, proxy_id, benchmark_id, proxy_sha256, traces_hash, "
        "config, config_hash, state, metrics, created_at) VALUES (1, 1, 1, 'sha', 'th', '{}', "
        "'ch', 'done', ?, 0)",
        (json.dumps({"rbridge": 2.0, "bpb": 1.25, "n_traces": 3}),),
    )
    conn.close()
    return root


def rows(ws, proxy_id):
    with closing(ws.connect(readonly=True)) as conn:
        return {
            r["metric"]: r
            for r in conn.execute(
                "SELECT * FROM eval_results WHERE proxy_id IS ? AND benchmark = 'mc'", (proxy_id,)
            )
        }


def test_migration_8_names_and_recomputes_the_proxies_metrics(tmp_path):
    ws = Workspace.open(old_workspace(tmp_path / "ws"))  # migrates
    with closing(ws.connect()) as conn:
        assert db.schema_version(conn) >= 8
        scores = json.loads(conn.execute("SELECT metrics FROM rbridge_scores").fetchone()[0])
        other = {
            (r["benchmark"], r["metric"]): r["value"]
            for r in conn.execute(
                "SELECT benchmark, metric, value FROM eval_results WHERE benchmark != 'mc'"
            )
        }
        bos = {r[0] for r in conn.execute("SELECT bos FROM mc_items")}

    one = rows(ws, 1)
    assert set(one) == {"acc", "acc_norm", "acc_bytes", "acc_per_char", "confidence"}
    # by hand: acc 2/3 (items 2, 3), acc_per_char 2/3 (items 2, 3: -0.5 ties -0.5, first wins),
    # acc_norm 1/3 (item 1: -7/8 is the best per character), acc_bytes 0
    assert one["acc_per_char"]["value"] == pytest.approx(2 / 3)
    assert one["acc_norm"]["value"] == pytest.approx(1 / 3)
    assert one["acc_bytes"]["value"] == 0.0
    assert one["acc_norm"]["value"] == accuracy(ITEMS, len)
    assert one["acc_bytes"]["value"] == accuracy(ITEMS, lambda c: len(c.encode("utf-8")))
    for key in ("run", "tokens", "stage", "category", "source", "proxy_id"):
        assert one["acc_norm"][key] == one["acc"][key]

    # proxy 2's rows came from 2 of its 3 stored items: renamed, nothing recomputed
    two = rows(ws, 2)
    assert set(two) == {"acc", "acc_per_char", "confidence"}
    assert two["acc_per_char"]["value"] == accuracy(ITEMS[:2], lambda c: len(" " + c))

    assert other == {("piqa", "acc_norm"): 0.61, ("gsm8k", "bpb_prompted"): 1.25}
    assert scores == {"rbridge": 2.0, "bpb_prompted": 1.25, "n_traces": 3}
    assert bos == {"auto"}


def test_a_data_step_fails_atomically(tmp_path, monkeypatch):
    root = old_workspace(tmp_path / "ws")

    def boom(conn):
        conn.execute("UPDATE eval_results SET value = -1")  # undone with the rest
        raise RuntimeError("data step failed")

    monkeypatch.setitem(db.DATA_STEPS, 8, boom)
    with pytest.raises(RuntimeError, match="data step failed"):
        Workspace.open(root)
    conn = sqlite3.connect(root / db.DB_FILENAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
    metrics = {r[0] for r in conn.execute("SELECT metric FROM eval_results WHERE value >= 0")}
    assert metrics == {"acc", "acc_norm", "confidence", "bpb"}
    cols = {r[1] for r in conn.execute("PRAGMA table_info(mc_items)")}
    assert "bos" not in cols
