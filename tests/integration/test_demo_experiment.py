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
