"""Job checkpoints (engine.jobs.checkpoint, engine.jobs.kinds.checkpoints): each kind's
dataclass reads what the job functions wrote before these classes existed (a job interrupted
before an upgrade resumes after it), writes the same JSON back, and a checkpoint that does not
fit fails naming the job kind and the field."""

from __future__ import annotations

import json
import logging
from collections import Counter

import pytest

from engine.errors import UsageError
from engine.jobs.checkpoint import Checkpoint
from engine.jobs.context import JobContext
from engine.jobs.kinds.checkpoints import (
    BetrCheckpoint,
    ClustersCheckpoint,
    ContaminationCheckpoint,
    EmbedDocsCheckpoint,
    ExperimentCheckpoint,
    GenerateCheckpoint,
    ImportDocsCheckpoint,
    ImportScoresCheckpoint,
    McEvalCheckpoint,
    NearDupCheckpoint,
    ProxyTrainCheckpoint,
    RayShardsCheckpoint,
    RbridgeScoreCheckpoint,
    TeacherForceCheckpoint,
)
from engine.jobs.kinds.experiment import Steps
from engine.jobs.table import create_job, get_job
from engine.store import jobs as store_jobs
from engine.store.db import transaction

SHA = "97887580b842d9e25a398833cbfef3b14c5abc77ecbe03b60239eac5affae2f1"
CKPT = {
    "step": 14,
    "tokens": 7168,
    "loss": 3.8254361152648926,
    "name": "ref-205.6k-7168tok",
    "path": "/ws/proxies/ref/ckpt-000000007168",
    "sha256": SHA,
    "proxy_id": 1,
}
STATE = "/ws/proxies/ref/state/step-000000014"

# What the job functions stored at main e94b90f (captured from its integration tests, paths
# and hashes shortened): every shape a stored job may hold when this code first reads it.
OLD_CHECKPOINTS = [
    (ImportDocsCheckpoint, {"records": 2000, "skipped": 3, "corpus_id": 1}),
    (BetrCheckpoint, {"stage": "sampled"}),
    (BetrCheckpoint, {"stage": "embed"}),
    (BetrCheckpoint, {"stage": "validated"}),
    (BetrCheckpoint, {"stage": "apply", "last_doc_id": 400, "classifier": SHA, "staged": 400}),
    (BetrCheckpoint, {"stage": "applied"}),
    (RbridgeScoreCheckpoint, {"stage": "start"}),
    (RbridgeScoreCheckpoint, {"stage": "nll", "scored": 3}),
    (RbridgeScoreCheckpoint, {"stage": "done"}),
    (McEvalCheckpoint, {"benchmark": 2, "items": 6}),
    (McEvalCheckpoint, {"benchmark": 2, "stage": "done"}),
    (
        ProxyTrainCheckpoint,
        {
            "step": 14,
            "tokens": 7168,
            "state_dir": STATE,
            "registered": [CKPT],
            "loss": 4.800073351178851,
            "resumes_at": 7168,
        },
    ),
    (
        ProxyTrainCheckpoint,
        {
            "step": 14,
            "tokens": 7168,
            "state_dir": STATE,
            "registered": [CKPT],
            "loss": 3.65,
            "resumes_at": 7168,
            "finished": True,
            "result": {"dataset": "ref", "final_loss": 3.652034044265747, "checkpoints": [CKPT]},
        },
    ),
    (
        ExperimentCheckpoint,
        {
            "children": {"train:demo-frontier:60000": 2, "train:demo-top-20pct:20000": 3},
            "finished": ["betr", "tokenizer", "train:demo-frontier:60000"],
            "steps": {
                "betr": ["betr", 0.0],
                "tokenizer": ["tokenizer", 0.008],
                "train:demo-frontier:60000": ["train:60000", 4.64],
            },
        },
    ),
    (
        GenerateCheckpoint,
        {
            "stage": "generate",
            "generated": 6,
            "retried": 1,
            "failures": [{"ext_id": "q7", "reason": "no answer letter in the output"}],
        },
    ),
    (
        TeacherForceCheckpoint,
        {
            "stage": "teacher-force",
            "after_id": 4,
            "teacher_forced": 4,
            "skipped": 0,
            "failures": [],
        },
    ),
    (
        ImportScoresCheckpoint,
        {
            "stage": "import-scores",
            "shards": [["part-00-z.parquet", 1380, 1796573741402016933], ["b.parquet", 6509, 17]],
            "shard": 0,
            "row": 1,
            "staged": 1,
            "checked": {"docs": 1200, "token_mismatches": 0},
        },
    ),
    (ImportScoresCheckpoint, {"stage": "imported"}),
    (ContaminationCheckpoint, {"check_id": 1, "after": 2000, "docs_hit": 3, "hits": 7}),
    (ContaminationCheckpoint, {"check_id": 1, "finished": True}),
    (
        NearDupCheckpoint,
        {"near_run_id": 3, "hashed": True, "after": 2000, "docs": 2000, "signed": 1990},
    ),
    (NearDupCheckpoint, {"near_run_id": 3, "finished": True}),
    (RayShardsCheckpoint, {"stage": "ray-apply", "shards_done": 1}),
    (RayShardsCheckpoint, {"stage": "ray-embed", "shards_done": 0}),
    (EmbedDocsCheckpoint, {}),
    (EmbedDocsCheckpoint, {"done": True}),
    (ClustersCheckpoint, {"stage": "vectors"}),
    (ClustersCheckpoint, {"stage": "written"}),
]


@pytest.mark.parametrize(
    ("cls", "stored"),
    OLD_CHECKPOINTS,
    ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(OLD_CHECKPOINTS)],
)
def test_a_checkpoint_the_old_code_wrote_reads_and_writes_back_the_same_json(cls, stored):
    restored = cls.read(json.loads(json.dumps(stored)), "kind")
    assert json.loads(json.dumps(restored.to_json())) == stored


def test_what_a_resumed_job_reads_from_old_checkpoints():
    apply = BetrCheckpoint.read(OLD_CHECKPOINTS[4][1])
    assert (apply.last_doc_id, apply.applying(SHA, 400), apply.applying(SHA, 399)) == (
        400,
        True,
        False,
    )
    assert not BetrCheckpoint.read({"stage": "apply"}).applying(SHA, 0)
    train = ProxyTrainCheckpoint.read(OLD_CHECKPOINTS[11][1])
    assert (train.step, train.state_dir, train.registered, train.finished) == (
        14,
        STATE,
        (CKPT,),
        False,
    )
    done = ProxyTrainCheckpoint.read(OLD_CHECKPOINTS[12][1])
    assert done.finished and done.result["final_loss"] == 3.652034044265747
    shards = ImportScoresCheckpoint.read(OLD_CHECKPOINTS[16][1])
    fingerprint = (("part-00-z.parquet", 1380, 1796573741402016933), ("b.parquet", 6509, 17))
    assert shards.resumes(fingerprint, 1) and not shards.resumes(fingerprint, 2)
    teacher = TeacherForceCheckpoint.read(None)  # nothing committed yet
    assert (teacher.after_id, teacher.skipped, teacher.failures) == (0, None, ())


def test_a_training_checkpoint_from_before_resumes_at_reads_with_its_saved_state():
    """Before issue 19 a training checkpoint had no `resumes_at`; its saved state is what a
    resume continues from, and the next progress report adds it."""
    old = {"step": 14, "tokens": 7168, "state_dir": STATE, "registered": [CKPT], "loss": 4.8}
    state = ProxyTrainCheckpoint.read(old)
    assert (state.step, state.tokens, state.state_dir, state.resumes_at) == (14, 7168, STATE, None)
    assert state.progress(4.5).to_json() == {**old, "loss": 4.5, "resumes_at": 7168}


def test_the_first_progress_report_of_a_training_stored_state_dir_null():
    """Before its first saved state a training job stored `"state_dir": null`; it reads as
    no saved state (train from the start), and is now left out."""
    old = {
        "step": 0,
        "tokens": 0,
        "state_dir": None,
        "registered": [],
        "loss": 5.9,
        "resumes_at": 0,
    }
    state = ProxyTrainCheckpoint.read(old)
    assert state == ProxyTrainCheckpoint(loss=5.9, resumes_at=0)
    assert state.to_json() == {
        "step": 0,
        "tokens": 0,
        "registered": [],
        "loss": 5.9,
        "resumes_at": 0,
    }


def test_an_experiment_checkpoint_from_before_step_times_groups_its_steps_by_key(workspace):
    """Before the experiment's ETA, its checkpoint had no `steps`: a resumed experiment takes
    each finished step's group from its key, with no time."""
    old = {
        "children": {"betr-pipeline": 2, "train:demo-frontier:1000000": 3},
        "finished": ["betr", "tokenizer", "train:demo-frontier:1000000"],
    }
    conn = workspace.connect()
    job_id = create_job(conn, "demo-experiment", "t", {})
    with transaction(conn):
        store_jobs.set_checkpoint(conn, job_id, old)
    ctx = JobContext(workspace, conn, get_job(conn, job_id), logging.getLogger("t"))
    steps = Steps(ctx, Counter({"betr": 1, "tokenizer": 1, "train:1000000": 4, "mc:250000": 3}))
    assert steps.times() == [("betr", None), ("tokenizer", None), ("train:1000000", None)]
    assert ctx.done == 3  # the finished steps
    steps.current = ("train:250000", 0.0)
    steps.finish("train:demo-top-10pct:250000")
    stored = get_job(conn, job_id).checkpoint
    assert stored["children"] == old["children"]
    assert stored["finished"] == [*old["finished"], "train:demo-top-10pct:250000"]
    assert list(stored["steps"]) == ["train:demo-top-10pct:250000"]
    assert get_job(conn, job_id).done == 4
    conn.close()


@pytest.mark.parametrize(
    ("cls", "stored", "message"),
    [
        (ProxyTrainCheckpoint, {"step": "14"}, "field 'step' must be an integer, got '14'"),
        (ProxyTrainCheckpoint, {"step": True}, "field 'step' must be an integer, got True"),
        (
            ProxyTrainCheckpoint,
            {"registered": [1]},
            "field 'registered' must be a list of objects, got (1,)",
        ),
        (ExperimentCheckpoint, {"finished": "betr"}, "field 'finished' must be a list of texts"),
        (BetrCheckpoint, {"stage": "nope"}, "unknown checkpoint stage 'nope'"),
        (BetrCheckpoint, {"stage": "apply", "extra": 1}, "unknown checkpoint field(s) extra"),
        (ImportDocsCheckpoint, [1, 2], "its checkpoint is not an object: [1, 2]"),
    ],
)
def test_a_checkpoint_that_does_not_fit_names_the_kind_and_the_field(cls, stored, message):
    with pytest.raises(UsageError) as err:
        cls.read(stored, "some-kind")
    assert err.value.message.startswith("some-kind job: ")
    assert message in err.value.message
    assert "start it again" in err.value.fix


def test_a_checkpoint_is_frozen_and_the_next_one_is_a_new_value():
    state = ContaminationCheckpoint(check_id=1, after=0, docs_hit=0, hits=0)
    after = state.checked(2000, [(7, 10, 0, 0, 5, 13), (7, 10, 1, 0, 5, 13), (9, 12, 0, 3, 8, 13)])
    assert (state.after, state.hits) == (0, 0)
    assert after.to_json() == {"check_id": 1, "after": 2000, "docs_hit": 2, "hits": 3}
    with pytest.raises(AttributeError):
        after.hits = 0  # type: ignore[misc]


def test_every_kinds_checkpoint_has_its_old_shapes_here_and_defaults_for_a_fresh_job():
    from engine.jobs.kinds import checkpoints

    defined = {
        c for c in vars(checkpoints).values() if isinstance(c, type) and issubclass(c, Checkpoint)
    }
    assert defined - {Checkpoint} == {cls for cls, _ in OLD_CHECKPOINTS}
    for cls in defined:
        assert cls.read(None) == cls()
