"""The demo experiment (`betr demo experiment`): does the BETR selection train better proxies
than a random or the bottom selection of the same token share, and does a small proxy's score
predict a larger one's accuracy?

Steps, each a child job with its own row, progress and checkpoint (the Jobs screen shows them),
run one after another in this worker:

1. the BETR run applied (its pipeline job is resumed, or waited for when another worker runs it);
2. one BPE tokenizer trained on the whole pool and shared by every proxy (so NLLs compare);
3. a "frontier" proxy (the larger size, the whole pool) and, for each selection (top, random,
   bottom X% of tokens) and each size, a proxy with `checkpoints` checkpoints at the same token
   counts (so the two sizes match on tokens);
4. reasoning traces: the trace benchmark's gold solutions, given letter probabilities by teacher
   forcing under the frontier proxy;
5. every checkpoint scored with rBridge on those traces, and evaluated on the multiple-choice
   benchmarks.

The orchestrator's checkpoint maps each step to its child job and records each finished step's
group and seconds; a resumed experiment skips the children that are done and resumes the others.
Its ETA comes from its steps' own times (engine.jobs.eta): the running child's own ETA plus, for
each step left, the mean time of the finished steps of its group, or unknown.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from engine.betr.select import SELECTION_ORDERS
from engine.errors import UsageError
from engine.jobs import table
from engine.jobs.context import JobContext
from engine.jobs.eta import RunningStep, steps_eta
from engine.jobs.kinds.proxy_train import iter_texts
from engine.jobs.rbridge_plan import plan_score_row
from engine.jobs.specs import (
    DemoExperimentSpec,
    JobSpec,
    McEvalSpec,
    PipelineSpec,
    ProxyTrainSpec,
    RbridgeScoreSpec,
    TeacherForceSpec,
)
from engine.rbridge.weights import ScoreConfig
from engine.store import catalog, docs, proxies, traces
from engine.store import runs as store_runs
from engine.store.db import transaction
from engine.units import abbreviate

SELECTIONS = tuple(SELECTION_ORDERS)  # a proxy on each selection order, top first
CAVEATS = (
    "What this can show: the whole loop on one machine (select data, train proxies, score them "
    "with rBridge and multiple choice, fit a small proxy's score to a larger one's accuracy, "
    "rank the selections) with real numbers at every step. What it cannot show: which "
    "selection is better for real models. Proxies of a few hundred thousand parameters trained "
    "on a few hundred thousand tokens sit near chance on multiple choice, three datasets give "
    "three ranking pairs, and the teacher-forced 'frontier' is itself a tiny model: treat "
    "differences as noise unless they exceed the spread between checkpoints."
)


def run_experiment(ctx: JobContext, spec: DemoExperimentSpec) -> dict[str, Any]:
    from engine.jobs.worker import execute_job

    conn = ctx.conn
    out = Path(spec.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = dict(ctx.checkpoint or {})
    children: dict[str, int] = dict(state.get("children", {}))
    plan = step_plan(spec)
    ctx.start_phase(sum(plan.values()), "steps", done=len(state.get("finished", [])))
    finished: list[str] = list(state.get("finished", []))
    steps: dict[str, list] = dict(state.get("steps", {}))  # key -> [group, seconds]
    current: dict[str, Any] = {}  # the step in progress: group, t0

    def checkpoint() -> dict[str, Any]:
        return {"children": children, "finished": finished, "steps": steps}

    def times() -> list[tuple[str, float | None]]:
        return [(*steps[k],) if k in steps else (step_group(k), None) for k in finished]

    ctx.steps_eta = lambda: steps_eta(plan, times())

    def begin(group: str) -> None:
        current.update(group=group, t0=time.monotonic())

    def step_done(key: str) -> None:
        if current:
            steps[key] = [current["group"], round(time.monotonic() - current["t0"], 3)]
            current.clear()
        finished.append(key)
        ctx.commit_chunk(lambda _c: None, advance=1, checkpoint=checkpoint())

    last_report = [0.0]

    def child_progress(done, total, unit, rate, eta) -> None:
        """The experiment's ETA while a child runs: the child's own ETA and the steps left."""
        now = time.monotonic()
        if not current or now - last_report[0] < 1.0:
            return
        last_report[0] = now
        running = RunningStep(current["group"], now - current["t0"], eta)
        ctx.report_eta(steps_eta(plan, times(), running))

    def run_child(key: str, child_spec: JobSpec, title: str) -> dict[str, Any]:
        """The child job of `key`: done -> its result; else (re)run it here."""
        job_id = children.get(key)
        if job_id is not None:
            job = table.get_job(conn, job_id)
            if job.state == "done":
                return job.result or {}
            if job.state in table.RESUMABLE:
                table.prepare_resume(conn, job_id)
        else:
            job_id = table.create_job(conn, child_spec.kind, title, child_spec.to_config())
            children[key] = job_id
            ctx.commit_chunk(lambda _c: None, advance=0, checkpoint=checkpoint())
        ctx.log.info("step %s: job %d (%s)", key, job_id, title)
        return execute_job(ctx.workspace, job_id, on_progress=child_progress) or {}

    # 1. the BETR selection exists
    if "betr" not in finished:
        begin("betr")
        ensure_applied(ctx, spec, run_child)
        step_done("betr")
    # 2. one tokenizer for every proxy
    tok_path = out / "tokenizer.json"
    if "tokenizer" not in finished:
        begin("tokenizer")
        train_shared_tokenizer(conn, spec, tok_path)
        step_done("tokenizer")
    trained: dict[str, dict[str, Any]] = {}

    def train(dataset: str, params: int, order: str | None) -> None:
        key = f"train:{dataset}:{params}"
        if key not in finished:
            begin(f"train:{params}")
        child = ProxyTrainSpec(
            corpus_id=spec.corpus_id,
            dataset=dataset,
            out_dir=str(out / f"{dataset}-{params}"),
            params=params,
            tokens=spec.tokens,
            checkpoints=spec.checkpoints if order is not None else 1,
            selection_run=spec.run_id if order is not None else None,
            keep=spec.keep if order is not None else None,
            selection_order=order or "top",
            seed=spec.seed,
            tokenizer=f"file:{tok_path}",
            seq_len=spec.seq_len,
            batch_size=spec.batch_size,
            device=spec.device,
        )
        result = run_child(key, child, f"train {dataset} ({abbreviate(params)} params)")
        trained[key] = result
        if key not in finished:
            step_done(key)

    # 3. the frontier, then each selection at each size
    big = max(spec.sizes)
    train("demo-frontier", big, None)
    for order in SELECTIONS:
        for params in spec.sizes:
            train(f"demo-{order}-{int(spec.keep * 100)}pct", params, order)
    # 4. traces with letter probabilities from the frontier
    bench = catalog.benchmark_by_name(conn, spec.trace_benchmark)
    if bench is None:
        raise UsageError(f"the demo experiment needs the benchmark '{spec.trace_benchmark}'")
    if "traces" not in finished:
        begin("traces")
        import_gold_traces(conn, bench, spec.n_traces)
        step_done("traces")
    frontier_ckpt = trained[f"train:demo-frontier:{big}"]["checkpoints"][-1]
    frontier = proxies.get_proxy(conn, frontier_ckpt["proxy_id"])
    if "teacher-force" not in finished:
        begin("teacher-force")
    run_child(
        "teacher-force",
        TeacherForceSpec(benchmark_id=int(bench["id"]), model=frontier["path"], device=spec.device),
        f"teacher-force {spec.trace_benchmark} traces under {frontier['name']}",
    )
    if "teacher-force" not in finished:
        step_done("teacher-force")
    # 5. rBridge and multiple choice for every checkpoint of the selections
    mc_ids = tuple(int(catalog.benchmark_by_name(conn, b)["id"]) for b in spec.mc_benchmarks)
    cfg = ScoreConfig()
    for key, result in trained.items():
        if key.startswith("train:demo-frontier"):
            continue
        params = key.rsplit(":", 1)[1]
        for ck in result["checkpoints"]:
            p = proxies.get_proxy(conn, ck["proxy_id"])
            score_key = f"score:{p['id']}"
            if score_key not in finished:
                begin(f"score:{params}")
                score_id, cached = plan_score_row(conn, p, bench, cfg)
                if not cached:
                    run_child(
                        score_key,
                        RbridgeScoreSpec(
                            score_id=score_id,
                            proxy_id=int(p["id"]),
                            benchmark_id=int(bench["id"]),
                            device=spec.device,
                        ),
                        f"rbridge score {p['name']} on {spec.trace_benchmark}",
                    )
                step_done(score_key)
            mc_key = f"mc:{p['id']}"
            if mc_key not in finished:
                begin(f"mc:{params}")
                run_child(
                    mc_key,
                    McEvalSpec(
                        proxy_id=int(p["id"]),
                        benchmark_ids=mc_ids,
                        limit=spec.mc_limit,
                        device=spec.device,
                    ),
                    f"mc-eval {p['name']} on {', '.join(spec.mc_benchmarks)}",
                )
                step_done(mc_key)
    datasets = sorted({key.split(":")[1] for key in trained} - {"demo-frontier"})
    return {
        "datasets": datasets,
        "sizes": list(spec.sizes),
        "proxies": sum(len(r["checkpoints"]) for r in trained.values()),
        "trace_benchmark": spec.trace_benchmark,
        "mc_benchmarks": list(spec.mc_benchmarks),
        "children": children,
        "caveats": CAVEATS,
    }


def step_plan(spec: DemoExperimentSpec) -> Counter[str]:
    """Every step of the experiment by group (steps of one group do the same work: the same
    kind at the same size): the BETR run, the tokenizer, the frontier and each selection's
    proxy at each size, the traces, their teacher forcing, and per checkpoint an rBridge score
    and a multiple-choice evaluation."""
    plan = Counter({"betr": 1, "tokenizer": 1, f"train:{max(spec.sizes)}": 1})
    plan.update({"traces": 1, "teacher-force": 1})
    for params in spec.sizes:
        plan[f"train:{params}"] += len(SELECTIONS)
        plan[f"score:{params}"] += len(SELECTIONS) * spec.checkpoints
        plan[f"mc:{params}"] += len(SELECTIONS) * spec.checkpoints
    return plan


def step_group(key: str) -> str:
    """The group of a step finished before groups were recorded (best effort from its key)."""
    kind, _, rest = key.partition(":")
    return f"train:{rest.rsplit(':', 1)[-1]}" if kind == "train" else kind


def ensure_applied(ctx: JobContext, spec: DemoExperimentSpec, run_child) -> None:
    """The BETR run is applied: resume its pipeline job here, or wait for the worker running it."""
    conn, run_id = ctx.conn, spec.run_id
    while True:
        run = store_runs.get_run(conn, run_id)
        if run["state"] == "applied":
            return
        jobs = [j for j in table.list_jobs(conn) if j.run_id == run_id and j.id != ctx.job_id]
        alive = [j for j in jobs if j.state == "running"]
        if alive:
            ctx.log.info(
                "waiting for job %d (%s) to apply run %d", alive[0].id, alive[0].title, run_id
            )
            ctx.check_cancel()
            time.sleep(2.0)
            continue
        ctx.log.info("run %d is %s: running its score, train and apply here", run_id, run["state"])
        pipeline = PipelineSpec(run_id=run_id, fasttext=dict(spec.pipeline_fasttext))
        run_child("betr-pipeline", pipeline, f"BETR run {run_id} (score, train, apply)")
        return


def train_shared_tokenizer(conn, spec: DemoExperimentSpec, path: Path) -> None:
    from engine.ops.lm_data import BPE_CHARS_PER_TOKEN, capped, train_bpe, write_atomic

    if path.is_file():
        return
    ids = docs.corpus_doc_ids(conn, spec.corpus_id)
    tok = train_bpe(
        capped(iter_texts(conn, ids, spec.seed), BPE_CHARS_PER_TOKEN * spec.tokens), spec.vocab
    )
    write_atomic(path, tok.to_str().encode("utf-8"))


def import_gold_traces(conn, bench, n: int) -> None:
    """The benchmark's first `n` gold worked solutions as traces (no probabilities yet), unless
    it has traces already."""
    if traces.traces_hash(conn, bench["id"])[1]:
        return
    rows = []
    for r in catalog.benchmark_examples(conn, [bench["name"]])[:n]:
        ex = catalog.example(conn, r["id"])
        answer = str(ex["answer"]).strip()
        if not answer:
            continue
        rows.append(
            {
                "ext_id": f"gold-{ex['ext_id']}",
                "question": ex["question"],
                "reasoning": answer,
                "gold": answer.rsplit("####", 1)[-1].strip() if "####" in answer else answer,
                "format": "demo-gold",
                "source": f"benchmark {bench['name']} example {ex['ext_id']}",
            }
        )
    if not rows:
        raise UsageError(f"benchmark '{bench['name']}' has no answers to use as traces")
    with transaction(conn):
        traces.insert_traces(conn, bench["id"], rows)
