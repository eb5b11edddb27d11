"""The demo experiment's orchestration on a small synthetic workspace: three selections at two
sizes, every checkpoint scored with rBridge and multiple choice, each step a child job; a
failed experiment resumes without redoing the steps that finished."""

from __future__ import annotations

import json
from collections import Counter
from contextlib import closing

import pytest

from bench.synth_run import make_synthetic_run
from engine.api import jobs
from engine.jobs.specs import DemoExperimentSpec
from engine.store import catalog, evals

pytestmark = pytest.mark.slow

pytest.importorskip("torch")


@pytest.fixture()
def spec(workspace, betr, tmp_path) -> DemoExperimentSpec:
    run_id = make_synthetic_run(workspace, 300, seed=1, benchmarks=("synth",), words=40)
    bench = tmp_path / "mini.jsonl"
    bench.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"q{i}",
                    "question": f"What is {i} + {i}?",
                    "answer": f"{i} + {i} = {2 * i}. #### {2 * i}",
                }
            )
            + "\n"
            for i in range(5)
        )
    )
    assert betr("import", "bench", str(bench), "--name", "mini")[0] == 0
    mc = tmp_path / "mc.jsonl"
    mc.write_text(
        "".join(
            json.dumps(
                {"id": f"m{i}", "query": f"Is {i} even?", "choices": ["yes", "no"], "gold": i % 2}
            )
            + "\n"
            for i in range(4)
        )
    )
    assert betr("import", "bench", str(mc), "--name", "parity")[0] == 0
    with closing(workspace.connect(readonly=True)) as conn:
        corpus_id = int(catalog.corpus_by_name(conn, "synthetic")["id"])
    return DemoExperimentSpec(
        corpus_id=corpus_id,
        run_id=run_id,
        out_dir=str(workspace.root / "proxies" / "exp"),
        keep=0.2,
        sizes=(20_000, 60_000),
        tokens=2048,
        checkpoints=2,
        vocab=400,
        trace_benchmark="mini",
        n_traces=5,
        mc_benchmarks=("parity",),
        mc_limit=4,
        seq_len=32,
        batch_size=8,
        device="cpu",
    )


def test_the_experiment_trains_scores_and_evaluates_and_resumes(workspace, spec, monkeypatch):
    from engine.jobs.kinds import experiment

    real = experiment.import_gold_traces
    monkeypatch.setattr(
        experiment, "import_gold_traces", lambda *a: (_ for _ in ()).throw(RuntimeError("boom"))
    )
    job_id = jobs.queue(workspace, spec)
    with pytest.raises(RuntimeError):
        jobs.run_here(workspace, job_id)
    done_before = {
        j.id for j in jobs.jobs(workspace) if j.kind == "proxy-train" and j.state == "done"
    }
    assert len(done_before) == 7  # the frontier and 3 selections x 2 sizes
    monkeypatch.setattr(experiment, "import_gold_traces", real)
    jobs.resume(workspace, job_id, detach=False)
    result = jobs.run_here(workspace, job_id)
    trains = [j for j in jobs.jobs(workspace) if j.kind == "proxy-train"]
    assert {j.id for j in trains} == done_before  # nothing trained twice
    assert result["datasets"] == ["demo-bottom-20pct", "demo-random-20pct", "demo-top-20pct"]
    assert result["proxies"] == 1 + 3 * 2 * 2 and "cannot show" in result["caveats"]
    assert all(j.state == "done" for j in jobs.jobs(workspace))
    # every step was timed in its group (its ETA came from them), across the failure
    steps = jobs.job(workspace, job_id).checkpoint["steps"]
    assert Counter(group for group, _s in steps.values()) == experiment.step_plan(spec)
    assert all(seconds >= 0 for _g, seconds in steps.values())
    with closing(workspace.connect(readonly=True)) as conn:
        rows = evals.eval_results(conn)
    by = {}
    for r in rows:
        by.setdefault((r["run"], r["size"]), set()).add((r["tokens"], r["metric"]))
    assert (
        set(by)
        == {(f"demo-{o}-20pct", s) for o in ("top", "random", "bottom") for s in ("20k", "60k")}
        or len(by) == 6
    )
    for metrics in by.values():
        assert {m for _t, m in metrics} >= {"rbridge_trace", "nll_rphi", "acc", "confidence"}
        assert len({t for t, _m in metrics}) == 2  # two checkpoints, matched on tokens


def test_a_second_experiment_points_to_the_first_ones_results(workspace, spec, betr, monkeypatch):
    """`betr demo experiment` again after it finished used to start a new job that failed on
    the first one's proxy folders, suggesting `betr jobs resume N` for a job that was done."""
    import os
    import time

    import engine.api.demo as demo
    from engine.jobs.table import HOST, create_job
    from engine.store.db import transaction

    monkeypatch.setattr(demo, "experiment_spec", lambda ws, **kw: spec)
    with closing(workspace.connect()) as conn:
        first = create_job(conn, spec.kind, "demo experiment", spec.to_config())

    def set_state(state: str, **fields) -> None:
        with closing(workspace.connect()) as conn, transaction(conn):
            conn.execute("UPDATE jobs SET state = ? WHERE id = ?", (state, first))
            for key, value in fields.items():
                conn.execute(f"UPDATE jobs SET {key} = ? WHERE id = ?", (value, first))

    def experiment_jobs() -> list[int]:
        return [j.id for j in jobs.jobs(workspace) if j.kind == spec.kind]

    set_state("done", finished_at=time.time(), done=5, total=5)
    code, out, err = betr("demo", "experiment")
    assert code == 0, err
    assert f"already ran (job {first}, done)" in out and "betr proxy results" in out
    assert "resume" not in out + err and experiment_jobs() == [first]

    set_state("running", pid=os.getpid(), host=HOST, heartbeat=time.time())
    code, out, err = betr("demo", "experiment")
    assert code == 0 and f"job {first} is running the demo experiment already" in out
    assert experiment_jobs() == [first]

    resumed = []
    monkeypatch.setattr(jobs, "resume", lambda ws, job_id, detach: resumed.append(job_id))
    set_state("cancelled", pid=None, finished_at=time.time())
    code, out, err = betr("demo", "experiment", "--detach")
    assert code == 0 and resumed == [first] and f"job {first} resumed" in out
    assert experiment_jobs() == [first]


@pytest.fixture()
def heldout_spec(workspace, spec, betr, tmp_path) -> DemoExperimentSpec:
    """The synthetic run retargeted at `mini` and `parity` with half of each held out (its
    config as plan_targets writes it), and a control benchmark `ctrl`."""
    from dataclasses import replace

    from engine.betr.targets import draw_holdout
    from engine.store.db import transaction

    ctrl = tmp_path / "ctrl.jsonl"
    ctrl.write_text(
        "".join(
            json.dumps({"id": f"c{i}", "question": f"Name {i}.", "answer": f"It is {i}. #### {i}"})
            + "\n"
            for i in range(6)
        )
    )
    assert betr("import", "bench", str(ctrl), "--name", "ctrl")[0] == 0
    with closing(workspace.connect()) as conn, transaction(conn):
        names = ["mini", "parity"]
        ids = catalog.example_ids(conn, names)
        held = draw_holdout(ids, 0.5, 0)
        row = conn.execute("SELECT config FROM runs WHERE id = ?", (spec.run_id,)).fetchone()
        config = json.loads(row[0])
        config["benchmarks"] = {n: len(ids[n]) for n in names}
        config["holdout"] = {"fraction": 0.5, "seed": 0, "held_out": held}
        config["target_examples"] = {n: [i for i in ids[n] if i not in held[n]] for n in names}
        conn.execute("UPDATE runs SET config = ? WHERE id = ?", (json.dumps(config), spec.run_id))
    return replace(spec, control_benchmarks=("ctrl",), mc_limit=4)


def test_the_experiment_stores_a_verdict_from_the_held_out_items(workspace, heldout_spec, betr):
    import engine.api.demo as demo
    from engine.store import traces

    job_id = jobs.queue(workspace, heldout_spec)
    result = jobs.run_here(workspace, job_id)
    v = result["verdict"]
    with closing(workspace.connect(readonly=True)) as conn:
        config = json.loads(
            conn.execute("SELECT config FROM runs WHERE id = ?", (heldout_spec.run_id,)).fetchone()[
                0
            ]
        )
        held = {n: set(ids) for n, ids in config["holdout"]["held_out"].items()}
        ext = {r["id"]: r["ext_id"] for r in catalog.benchmark_examples(conn, ["mini", "parity"])}
        mini = catalog.benchmark_by_name(conn, "mini")
        gold = {t["ext_id"] for t in traces.trace_rows(conn, mini["id"])}
    # the target traces are the held-out examples, and only those
    assert gold == {f"gold-{ext[i]}" for i in held["mini"]}
    assert v["sets"] == {"target": ["mini", "parity"], "control": ["ctrl"]}
    assert v["holdout"] == {"fraction": 0.5, "seed": 0, "examples": {"mini": 2, "parity": 2}}
    keys = {(r["selection"], r["size"], r["set"], r["metric"]) for r in v["values"]}
    for size in heldout_spec.sizes:
        for sel in ("top", "random", "bottom"):
            assert {(sel, size, "target", m) for m in ("bpb", "rbridge", "acc")} <= keys
            assert (sel, size, "control", "bpb") in keys
    for r in v["values"]:
        if r["set"] == "target":  # the 2 held-out examples of each target benchmark
            expected = {"bpb": ["mini", "parity"], "rbridge": ["mini"], "acc": ["parity"]}
            assert r["benchmarks"] == expected[r["metric"]]
            assert r["n_items"] == 2 * len(r["benchmarks"])
    pairs = {(p["a"], p["b"], p["set"], p["metric"], p["size"]) for p in v["paired"]}
    for size in heldout_spec.sizes:
        for b in ("random", "bottom"):
            assert ("top", b, "target", "bpb", size) in pairs
            assert ("top", b, "control", "bpb", size) in pairs
    for p in v["paired"]:
        assert {"diff", "ci_low", "ci_high", "distinguishable"} <= set(p)
    # the sentences follow the intervals: a claim only where one excludes 0
    claims = sum(1 for s in v["verdicts"] for part in s.split("; on ") if " beats " in part)
    assert claims == sum(1 for p in v["paired"] if p["distinguishable"])
    stored = demo.experiment_verdict(workspace)
    assert stored is not None and stored.to_json() == v
    # the other benchmarks' gold traces are scored on each proxy's final checkpoint only
    # (what the verdict reads): one per selection and size
    from engine.store import proxies

    steps = jobs.job(workspace, job_id).checkpoint["steps"]
    scored = [int(k.rsplit(":", 1)[1]) for k in steps if k.startswith("bpb:")]
    with closing(workspace.connect(readonly=True)) as conn:
        every = proxies.list_proxies(conn)
    final = {}
    for r in every:
        key = (r["dataset"], r["params"])
        final[key] = max(final.get(key, 0), int(r["tokens"]))
    rows = [r for r in every if int(r["id"]) in scored]
    assert len({(r["dataset"], r["params"]) for r in rows}) == 3 * len(heldout_spec.sizes)
    assert all(int(r["tokens"]) == final[(r["dataset"], r["params"])] for r in rows)
    # the CLI prints it (the experiment already ran: its results, then the verdict)
    import engine.api.demo as demo_api

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo_api, "experiment_spec", lambda ws, **kw: heldout_spec)
        code, out, err = betr("demo", "experiment")
    assert code == 0, err
    assert "verdict:" in out and v["verdicts"][0] in out
    assert any("fewer than 20 items" in n for n in v["notes"])
