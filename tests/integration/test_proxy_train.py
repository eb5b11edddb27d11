"""`proxy-train` jobs end to end: checkpoints registered as proxies with increasing token
counts, and a cancelled or kill -9'd job resumes to exactly the final loss of an uninterrupted
one with the same seed."""

from __future__ import annotations

import os
import signal
from contextlib import closing

import pytest

from engine.errors import JobCancelled, UsageError
from engine.jobs import launch
from engine.jobs.specs import ImportDocsSpec, ProxyTrainSpec
from engine.jobs.table import get_job, request_cancel
from engine.jobs.worker import execute_job
from engine.ops.train_lm import neox_params
from engine.store import catalog, proxies
from tests.conftest import write_docs_jsonl
from tests.integration.test_jobs import job_state, wait_for

pytestmark = pytest.mark.usefixtures("olmo_wheel")
torch = pytest.importorskip("torch")

STEPS = 40
TOKENS_PER_STEP = 8 * 64


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """The same thread count in this process and in detached workers (CPU sums are only
    bitwise reproducible at a fixed thread count)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def corpus_id(workspace, tmp_path) -> int:
    src = write_docs_jsonl(tmp_path / "docs.jsonl", 150, seed=11, words=40)
    job = launch.submit(workspace, ImportDocsSpec(corpus="web", paths=(str(src),)), detach=False)
    execute_job(workspace, job)
    with closing(workspace.connect(readonly=True)) as conn:
        return int(catalog.corpus_by_name(conn, "web")["id"])


def spec(workspace, corpus_id: int, name: str, checkpoints: int = 3) -> ProxyTrainSpec:
    return ProxyTrainSpec(
        corpus_id=corpus_id,
        dataset=name,
        out_dir=str(workspace.root / "proxies" / name),
        params=200_000,
        tokens=STEPS * TOKENS_PER_STEP,
        checkpoints=checkpoints,
        tokenizer="train:512",
        seq_len=64,
        batch_size=8,
        lr=3e-3,
        seed=5,
        device="cpu",
    )


def job_proxies(workspace, job_id: int) -> list[dict]:
    with closing(workspace.connect(readonly=True)) as conn:
        return proxies.proxies_of_job(conn, job_id)


def test_a_training_job_registers_each_checkpoint_and_resumes_exactly(workspace, corpus_id):
    from engine.ops.hf_load import load_causal_lm

    ref_id = launch.submit(workspace, spec(workspace, corpus_id, "ref"), detach=False)
    ref = execute_job(workspace, ref_id)
    assert ref["steps"] == STEPS and ref["tokens"] == STEPS * TOKENS_PER_STEP
    # 36 distinct words: the BPE stops short of 512 entries; a 200k budget gives hidden 64 x 3
    assert 300 < ref["vocab"] < 512
    assert ref["shape"] == {"hidden": 64, "layers": 3, "heads": 4}
    params = neox_params(ref["vocab"], 64, 3)
    assert ref["params"] == params
    rows = job_proxies(workspace, ref_id)
    # checkpoint_steps(40, 3) == [14, 27, 40]
    assert [r["tokens"] for r in rows] == [s * TOKENS_PER_STEP for s in (14, 27, 40)]
    assert [r["step"] for r in rows] == [14, 27, 40]
    assert {(r["dataset"], r["origin"], r["model_type"], r["params"]) for r in rows} == {
        ("ref", "trained", "gpt_neox", params)
    }
    assert rows[0]["name"] == f"ref-{params / 1000:.1f}k-{14 * TOKENS_PER_STEP}tok"
    assert [c["proxy_id"] for c in ref["checkpoints"]] == [r["id"] for r in rows]
    loaded = load_causal_lm(rows[-1]["path"], device="cpu")
    assert loaded.model.config.num_hidden_layers == 3
    job = job_state(workspace, ref_id)
    assert (job.done, job.total, job.unit) == (ref["tokens"], ref["tokens"], "tokens")
    assert "loss" in workspace.job_log_path(ref_id).read_text()
    assert not list((workspace.root / "proxies" / "ref" / "state").iterdir())  # states cleaned

    # another job never rewrites registered checkpoints
    again = launch.submit(workspace, spec(workspace, corpus_id, "ref"), detach=False)
    with pytest.raises(UsageError, match=f"holds the checkpoints of proxy-train job {ref_id}"):
        execute_job(workspace, again)

    # cancelled after its first checkpoint, then resumed: the same final loss
    cut_id = launch.submit(workspace, spec(workspace, corpus_id, "cut"), detach=False)

    def cancel_after_first_checkpoint(done, total, unit, rate, eta):
        if unit == "tokens" and done >= 14 * TOKENS_PER_STEP:
            with closing(workspace.connect()) as conn:
                request_cancel(conn, cut_id)

    with pytest.raises(JobCancelled):
        execute_job(workspace, cut_id, on_progress=cancel_after_first_checkpoint)
    stopped = job_state(workspace, cut_id)
    assert stopped.state == "cancelled"
    assert stopped.checkpoint["step"] == 14 and len(job_proxies(workspace, cut_id)) == 1
    launch.resume(workspace, cut_id, detach=False)
    cut = execute_job(workspace, cut_id)
    assert cut["final_loss"] == ref["final_loss"]
    cut_rows = job_proxies(workspace, cut_id)
    assert [r["tokens"] for r in cut_rows] == [r["tokens"] for r in rows]  # none twice
    # same seed, same data: the same weights (the sha covers config, weights, tokenizer)
    assert [r["sha256"] for r in cut_rows] == [r["sha256"] for r in rows]


def test_kill_9_mid_training_then_resume_reaches_the_same_final_loss(workspace, corpus_id):
    ref = execute_job(
        workspace, launch.submit(workspace, spec(workspace, corpus_id, "ref", 4), detach=False)
    )
    job_id = launch.submit(workspace, spec(workspace, corpus_id, "killed", 4), detach=True)
    job = wait_for(
        lambda: (
            (j := job_state(workspace, job_id)).state == "running"
            and (j.checkpoint or {}).get("state_dir")
            and j
        ),
        120,
        "the worker to commit its first resume state",
        interval=0.02,
    )
    assert not job.checkpoint.get("finished"), "it finished before it could be killed"
    os.killpg(job.pgid, signal.SIGKILL)
    wait_for(lambda: job_state(workspace, job_id).state == "interrupted", 15, "interrupted")
    killed_at = job_state(workspace, job_id).checkpoint["step"]
    assert 0 < killed_at < STEPS
    launch.resume(workspace, job_id, detach=False)
    resumed = execute_job(workspace, job_id)
    assert resumed["final_loss"] == ref["final_loss"]
    assert [c["tokens"] for c in resumed["checkpoints"]] == [
        s * TOKENS_PER_STEP for s in (10, 20, 30, 40)
    ]
    with closing(workspace.connect(readonly=True)) as conn:
        assert get_job(conn, job_id).attempts == 2


def test_a_selection_trains_on_the_docs_betr_select_keeps(workspace, corpus_id):
    import numpy as np

    from engine.api.select import select
    from engine.jobs.kinds.proxy_train import training_doc_ids
    from engine.store import docs, scores
    from engine.store import runs as store_runs
    from engine.store.db import transaction

    with closing(workspace.connect()) as conn:
        ids = docs.corpus_doc_ids(conn, corpus_id)
        run_id = store_runs.create_run(conn, "betr", "r", {}, "h", corpus_id, None)
        probs = np.random.default_rng(0).random(len(ids))
        with transaction(conn):
            scores.stage_probs(
                conn, [(run_id, int(d), float(p), 0) for d, p in zip(ids, probs, strict=True)]
            )
            scores.swap_in_staged(conn, run_id, 0)
            store_runs.set_state(conn, run_id, "applied", finished=True)
        for keep in (0.3, 1.0):
            sel = select(conn, run_id, keep)
            expected = sorted(
                r["doc_id"] for r, _ in scores.export_rows(conn, run_id, sel.position, [])
            )
            s = ProxyTrainSpec(
                **{
                    **spec(workspace, corpus_id, "sel").to_config(),
                    "selection_run": run_id,
                    "keep": keep,
                }
            )
            assert training_doc_ids(conn, s).tolist() == expected
        assert len(expected) == len(ids)
