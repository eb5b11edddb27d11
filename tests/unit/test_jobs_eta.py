"""Honest progress: a multi-step job's ETA from its steps' own times, hand-computed."""

from __future__ import annotations

import logging

import pytest

from engine.jobs.context import JobContext
from engine.jobs.eta import RunningStep, steps_eta
from engine.jobs.kinds.checkpoints import ExperimentCheckpoint
from engine.jobs.kinds.experiment import SELECTIONS, step_group, step_plan
from engine.jobs.specs import DemoExperimentSpec
from engine.jobs.table import create_job, get_job


def test_eta_is_the_running_steps_own_plus_each_groups_mean_time():
    plan = {"train:250k": 3, "score:250k": 2}
    finished = [("train:250k", 10.0), ("train:250k", 20.0)]
    # train: 1 left at the mean 15 s; score: the running one's own 6 s, the next one as long
    # as the running one will have taken (4 s so far + 6 s)
    assert steps_eta(plan, finished, RunningStep("score:250k", 4.0, 6.0)) == 15.0 + 6.0 + 10.0


def test_eta_of_a_running_step_of_a_measured_group_uses_the_groups_mean_for_the_rest():
    plan = {"train": 4}
    finished = [("train", 30.0), ("train", 50.0)]
    assert steps_eta(plan, finished, RunningStep("train", 5.0, 12.0)) == 12.0 + 40.0


@pytest.mark.parametrize(
    ("plan", "finished", "running"),
    [
        # a group not measured yet, and the running step is of another group
        ({"train": 2, "score": 1}, [("train", 10.0)], None),
        ({"train": 2, "score": 1}, [("train", 10.0)], RunningStep("train", 1.0, 9.0)),
        # the running step's own ETA is not known yet
        ({"train": 2}, [("train", 10.0)], RunningStep("train", 1.0, None)),
        # finished, but not timed (before times were recorded)
        ({"train": 2}, [("train", None)], None),
    ],
)
def test_eta_is_unknown_while_a_step_left_has_no_measured_time(plan, finished, running):
    assert steps_eta(plan, finished, running) is None


def test_untimed_steps_count_as_done_but_not_in_the_mean():
    assert steps_eta({"a": 3}, [("a", None), ("a", 30.0)]) == 30.0
    assert steps_eta({"a": 2, "b": 1}, [("a", 1.0), ("a", 2.0), ("b", 3.0)]) == 0.0


def test_a_step_rate_eta_would_swing_where_the_steps_eta_does_not():
    """The issue's run: fast and slow steps alternate. Steps left / (steps per second over
    the last step) says 47 x the last step's time; per group, the slow steps left cost the
    slow steps' time and the fast ones the fast ones'."""
    plan = {"train": 3, "score": 44}
    after_fast = [("train", 600.0), ("score", 2.0)]
    after_slow = [("score", 2.0), ("train", 600.0)]
    for finished in (after_fast, after_slow):
        assert steps_eta(plan, finished) == 2 * 600.0 + 43 * 2.0


def test_the_experiments_plan_holds_every_step_and_groups_finished_keys():
    spec = DemoExperimentSpec(corpus_id=1, run_id=1, out_dir="x")
    plan = step_plan(spec)
    n_sizes, ckpts = len(spec.sizes), spec.checkpoints
    assert sum(plan.values()) == 3 + 2 + len(SELECTIONS) * n_sizes * (1 + 2 * ckpts)
    big, small = max(spec.sizes), min(spec.sizes)
    assert plan[f"train:{big}"] == 1 + len(SELECTIONS)  # the frontier is of the larger size
    assert plan[f"train:{small}"] == len(SELECTIONS)
    assert plan[f"score:{small}"] == plan[f"mc:{big}"] == len(SELECTIONS) * ckpts
    # the other benchmarks' gold traces: on each proxy's final checkpoint only
    assert step_plan(spec, 8)[f"bpb:{small}"] == len(SELECTIONS) * 8
    assert step_group(f"train:demo-top-10pct:{small}") == f"train:{small}"
    assert step_group("tokenizer") == "tokenizer"


def test_a_multi_step_job_writes_its_steps_eta_and_no_steps_per_second(workspace):
    conn = workspace.connect()
    job_id = create_job(conn, "demo-experiment", "t", {})
    ctx = JobContext(workspace, conn, get_job(conn, job_id), logging.getLogger("t"))
    ctx.start_phase(3, "steps")
    finished: list[tuple[str, float | None]] = []
    ctx.steps_eta = lambda: steps_eta({"a": 2, "b": 1}, finished)
    finished.append(("a", 7.0))
    ctx.advance(1, ExperimentCheckpoint())
    job = get_job(conn, job_id)
    assert (job.done, job.rate, job.eta_s) == (1, None, None)  # b is not measured yet
    finished.append(("b", 3.0))
    ctx.advance(1, ExperimentCheckpoint())
    assert (get_job(conn, job_id).rate, get_job(conn, job_id).eta_s) == (None, 7.0)
    ctx.report_eta(4.5)  # while a step runs
    assert (get_job(conn, job_id).done, get_job(conn, job_id).eta_s) == (2, 4.5)
    ctx.start_phase(10, "docs")  # a new phase: the old ETA is of another unit
    assert get_job(conn, job_id).eta_s is None
    conn.close()
