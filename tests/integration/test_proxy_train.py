"""`proxy-train` jobs end to end: checkpoints registered as proxies with increasing token
counts, and a cancelled or kill -9'd job resumes to exactly the final loss of an uninterrupted
one with the same seed."""

from __future__ import annotations

import json
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
from tests.helpers import job_state, wait_for, write_docs_jsonl

pytestmark = [pytest.mark.usefixtures("olmo_wheel"), pytest.mark.slow]
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


def cancel_after_first_checkpoint(workspace, job_id: int) -> None:
    """Run the job here and cancel it once it has passed its first checkpoint (step 14)."""

    def cancel(done, total, unit, rate, eta):
        if unit == "tokens" and done >= 14 * TOKENS_PER_STEP:
            with closing(workspace.connect()) as conn:
                request_cancel(conn, job_id)

    with pytest.raises(JobCancelled):
        execute_job(workspace, job_id, on_progress=cancel)


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
    cancel_after_first_checkpoint(workspace, cut_id)
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


def test_a_training_interrupted_before_an_upgrade_resumes_after_it(workspace, corpus_id):
    """A job stopped under the code before issue 19, whose checkpoint has no `resumes_at`,
    resumes under this code to exactly the final loss and checkpoints of an uninterrupted
    run (tests/unit/test_checkpoints.py holds the other kinds' old shapes)."""
    from tests.tui.conftest import update_job

    ref = execute_job(
        workspace, launch.submit(workspace, spec(workspace, corpus_id, "ref"), detach=False)
    )
    cut_id = launch.submit(workspace, spec(workspace, corpus_id, "cut"), detach=False)
    cancel_after_first_checkpoint(workspace, cut_id)
    stopped = job_state(workspace, cut_id).checkpoint
    old = {k: v for k, v in stopped.items() if k != "resumes_at"}
    assert old["step"] == 14 and [r["step"] for r in old["registered"]] == [14]
    update_job(workspace, cut_id, checkpoint=json.dumps(old))
    launch.resume(workspace, cut_id, detach=False)
    cut = execute_job(workspace, cut_id)
    assert cut["final_loss"] == ref["final_loss"]
    assert [(c["step"], c["sha256"]) for c in cut["checkpoints"]] == [
        (c["step"], c["sha256"]) for c in ref["checkpoints"]
    ]


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


# -- issue 19: one job per output directory, bounded parameters, no NaN checkpoints ---------
def tree(path) -> dict[str, tuple[int, bytes]]:
    """Every file under `path`: relative name -> (mode, bytes)."""
    out = {}
    for p in sorted(path.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(path))] = (p.stat().st_mode, p.read_bytes())
    return out


def cli_spec(workspace, tokens: int, **extra) -> ProxyTrainSpec:
    from engine.api.proxies import train_spec

    kwargs = dict(
        params=200_000,
        tokens=tokens,
        checkpoints=2,
        tokenizer="train:512",
        seq_len=64,
        batch_size=8,
        lr=3e-3,
        seed=5,
        device="cpu",
    )
    return train_spec(workspace, corpus="web", **{**kwargs, **extra})


def test_two_concurrent_trainings_of_one_dataset_keep_their_own_checkpoints(workspace, corpus_id):
    """Same corpus, params and seed, different --tokens, started together: each trains into
    its own directory, and every registered checkpoint still has the sha256 it was
    registered with (issue 19.1)."""
    from engine.rbridge.proxy_dir import check_model_dir, model_sha256

    # 20 and 40 steps of 512 tokens, 2 checkpoints each: both save one at 10240 tokens
    first, second = cli_spec(workspace, 20 * TOKENS_PER_STEP), cli_spec(workspace, 40 * 512)
    assert first.out_dir != second.out_dir
    assert os.path.basename(first.out_dir).startswith("web-200000p-10240tok-s5-")
    jobs = [launch.submit(workspace, s, detach=True) for s in (first, second)]
    for job_id in jobs:
        wait_for(lambda j=job_id: job_state(workspace, j).state == "done", 240, "training")
    rows = {j: job_proxies(workspace, j) for j in jobs}
    assert [r["tokens"] for r in rows[jobs[0]]] == [5120, 10240]
    assert [r["tokens"] for r in rows[jobs[1]]] == [10240, 20480]
    same = [r for j in jobs for r in rows[j] if r["tokens"] == 10240]
    base = same[0]["name"].split("-job")[0]
    assert base.endswith("-10240tok")
    # the one registered second says its job: every name is unique
    assert sorted(r["name"] for r in same) == sorted(
        [base, f"{base}-job{max(same, key=lambda r: r['id'])['job_id']}"]
    )
    for r in [r for j in jobs for r in rows[j]]:
        assert model_sha256(check_model_dir(r["path"])) == r["sha256"], r["path"]
    for s in (first, second):  # owner-only, like the rest of the workspace
        assert os.stat(s.out_dir).st_mode & 0o077 == 0
        assert os.stat(os.path.join(s.out_dir, "tokenizer.json")).st_mode & 0o077 == 0
        assert os.stat(os.path.join(s.out_dir, "data", "tokens.npy")).st_mode & 0o077 == 0


def test_a_second_job_on_a_claimed_directory_is_refused_naming_the_first(workspace, corpus_id):
    """The 8-seconds-later run of the issue: same --out while the first job trains. Refused
    when planned (the first is queued) and, if it slips past, when it claims the directory;
    the first one's checkpoints are untouched."""
    from engine.jobs.train_dir import SPEC_FILE

    out = workspace.root / "shared-out"
    first = cli_spec(workspace, 40 * TOKENS_PER_STEP, out_dir=str(out))
    first_id = launch.submit(workspace, first, detach=False)  # queued: its dir does not exist
    with pytest.raises(UsageError, match=f"output directory of proxy-train job {first_id}"):
        cli_spec(workspace, 20 * TOKENS_PER_STEP, out_dir=str(out))
    # a second spec built before the first was queued: refused by the claim itself
    second = ProxyTrainSpec(**{**first.to_config(), "tokens": 20 * TOKENS_PER_STEP})
    second_id = launch.submit(workspace, second, detach=False)
    launch.spawn_worker(workspace, first_id)
    wait_for(lambda: (out / SPEC_FILE).is_file(), 120, "the first job to claim its directory")
    with pytest.raises(UsageError, match=f"output directory of proxy-train job {first_id}"):
        execute_job(workspace, second_id)
    assert job_state(workspace, second_id).state == "failed"
    wait_for(lambda: job_state(workspace, first_id).state == "done", 240, "the first job")
    from engine.rbridge.proxy_dir import check_model_dir, model_sha256

    rows = job_proxies(workspace, first_id)
    assert [r["tokens"] for r in rows] == [20 * TOKENS_PER_STEP, 40 * TOKENS_PER_STEP]
    assert all(model_sha256(check_model_dir(r["path"])) == r["sha256"] for r in rows)
    assert job_proxies(workspace, second_id) == []


def test_a_foreign_directory_and_a_path_in_the_dataset_are_refused_unchanged(
    workspace, corpus_id, tmp_path
):
    """--out into a non-empty directory betr did not make: refused, not one byte changed;
    --dataset with a path in it: refused; no job is queued for either (issue 19.2, 19.3)."""
    from tests.helpers import betr

    foreign = tmp_path / "mine"
    (foreign / "state").mkdir(parents=True)
    (foreign / "state" / "keep.bin").write_bytes(b"\x00\x01")
    (foreign / "tokenizer.json").write_text('{"not": "betr"}')
    before = tree(foreign)
    args = (
        "proxy",
        "train",
        "--corpus",
        "web",
        "--params",
        "200k",
        "--tokens",
        "20k",
        "--tokenizer",
        "train:512",
        "--seq-len",
        "64",
        "--batch-size",
        "8",
        "--device",
        "cpu",
    )
    code, _, err = betr(workspace, *args, "--out", str(foreign))
    assert code == 2 and "is not empty and was not made by betr proxy train" in err
    assert tree(foreign) == before
    for name in ("../../../../outside/escaped", "../x", "a/b", ".hidden", ".."):
        code, _, err = betr(workspace, *args, "--dataset", name)
        assert code == 2, (name, err)
        assert "dataset name" in err and "Traceback" not in err
    assert not (workspace.root.parent / "outside").exists()
    assert not (workspace.root / "proxies").exists()
    with closing(workspace.connect(readonly=True)) as conn:
        assert (
            conn.execute("SELECT COUNT(*) FROM jobs WHERE kind = 'proxy-train'").fetchone()[0] == 0
        )


def test_unbounded_training_parameters_are_refused_up_front(workspace, corpus_id):
    """--params 1e12 (with the memory estimate), --lr inf / nan, --seed -1, --device tpu: exit 2
    with the reason and nothing queued (issue 19.6)."""
    from tests.helpers import betr

    args = (
        "proxy",
        "train",
        "--corpus",
        "web",
        "--tokens",
        "20k",
        "--seq-len",
        "64",
        "--batch-size",
        "8",
    )
    cases = {
        ("--params", "1e12", "--device", "cpu"): "needs about",
        ("--params", "200k", "--lr", "inf"): "--lr must be a finite number",
        ("--params", "200k", "--lr", "nan"): "--lr must be a finite number",
        ("--params", "200k", "--lr", "5"): "--lr in (0, 1.0]",
        ("--params", "200k", "--seed", "-1"): "--seed must be between 0 and",
        ("--params", "200k", "--device", "tpu"): "unknown --device 'tpu'",
    }
    for extra, message in cases.items():
        code, _, err = betr(workspace, *args, *extra)
        assert code == 2 and message in err and "Traceback" not in err, (extra, err)
    with closing(workspace.connect(readonly=True)) as conn:
        assert (
            conn.execute("SELECT COUNT(*) FROM jobs WHERE kind = 'proxy-train'").fetchone()[0] == 0
        )


def test_a_run_whose_loss_turns_nan_stops_and_registers_nothing_after_it(
    workspace, corpus_id, monkeypatch
):
    """The loss goes NaN after step 20 (a diverging run): the job fails with the reason, the
    checkpoint of step 14 (before it) stays registered, none after it is written or
    registered, and `jobs show --json` is valid JSON (issue 19.6)."""
    import json

    from engine.ops import train_lm
    from tests.helpers import betr

    real_loss = train_lm.lm_loss
    calls = {"n": 0}

    def diverging(model, batch):
        calls["n"] += 1
        loss = real_loss(model, batch)
        return loss * float("nan") if calls["n"] > 20 else loss

    monkeypatch.setattr(train_lm, "lm_loss", diverging)
    job_id = launch.submit(workspace, spec(workspace, corpus_id, "nan"), detach=False)
    with pytest.raises(UsageError, match="training diverged: the loss is nan"):
        execute_job(workspace, job_id)
    job = job_state(workspace, job_id)
    assert job.state == "failed" and "lower --lr" in job.error
    assert [r["step"] for r in job_proxies(workspace, job_id)] == [14]
    ckpts = sorted(p.name for p in (workspace.root / "proxies" / "nan").glob("ckpt-*"))
    assert ckpts == [f"ckpt-{14 * TOKENS_PER_STEP:012d}"]
    code, out, _ = betr(workspace, "jobs", "show", str(job_id), "--json")
    assert code == 0
    json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))


def test_a_registered_checkpoint_is_never_written_again(workspace, corpus_id):
    """A resume whose state is gone trains from the start and passes the registered
    checkpoint's step again: the directory is left as it was (not rewritten)."""
    import shutil

    job_id = launch.submit(workspace, spec(workspace, corpus_id, "again"), detach=False)
    cancel_after_first_checkpoint(workspace, job_id)
    (registered,) = job_proxies(workspace, job_id)
    files = {p.name: p.stat().st_mtime_ns for p in sorted(os.scandir(registered["path"]), key=str)}
    shutil.rmtree(workspace.root / "proxies" / "again" / "state")
    launch.resume(workspace, job_id, detach=False)
    execute_job(workspace, job_id)
    again = {p.name: p.stat().st_mtime_ns for p in sorted(os.scandir(registered["path"]), key=str)}
    assert again == files
    assert [r["step"] for r in job_proxies(workspace, job_id)] == [14, 27, 40]
