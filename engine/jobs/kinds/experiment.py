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
4. gold traces (engine.jobs.kinds.experiment_eval): of the run's target benchmarks on the
   examples it held out, of the control benchmarks, and of the trace benchmark; the trace
   benchmark's given letter probabilities by teacher forcing under the frontier proxy;
5. every checkpoint scored with rBridge on the trace benchmark's traces and evaluated on the
   multiple-choice benchmarks; each selection's final checkpoint also scored on each other
   benchmark's gold traces (the release's masked-span bpb on gold text, which the verdict
   reads);
6. the verdict (engine.analysis.experiment_verdict): per selection, size, set and metric the
   number with its bootstrap interval, the paired differences top - random and top - bottom,
   sentences read from the intervals; stored in the job's result under `verdict`.

The orchestrator's checkpoint maps each step to its child job and records each finished step's
group and seconds; a resumed experiment skips the children that are done and resumes the others.
Its ETA comes from its steps' own times (engine.jobs.eta): the running child's own ETA plus, for
each step left, the mean time of the finished steps of its group, or unknown.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from engine.betr.select import SELECTION_ORDERS
from engine.errors import UsageError
from engine.jobs import table
from engine.jobs.context import JobContext
from engine.jobs.eta import RunningStep, steps_eta
from engine.jobs.kinds.checkpoints import ExperimentCheckpoint
from engine.jobs.kinds.experiment_eval import EvalPlan, eval_plan, experiment_verdict
from engine.jobs.kinds.experiment_eval import import_gold_traces as import_gold
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
from engine.store import catalog, docs, proxies
from engine.store import runs as store_runs
from engine.units import abbreviate

SELECTIONS = tuple(SELECTION_ORDERS)  # a proxy on each selection order, top first
CAVEATS = (
    "What this can show: the whole loop on one machine (select data, train proxies, score them "
    "with rBridge and multiple choice, fit a small proxy's score to a larger one's accuracy, "
    "rank the selections) with real numbers at every step. What it cannot show: which "
    "selection is better for real models. Proxies of a few hundred thousand parameters trained "
    "on a few hundred thousand tokens sit near chance on multiple choice, three datasets give "
    "three ranking pairs, and the teacher-forced 'frontier' is itself a tiny model: the "
    "verdict claims a difference only where its 95% bootstrap interval excludes 0."
)


def run_experiment(ctx: JobContext, spec: DemoExperimentSpec) -> dict[str, Any]:
    conn = ctx.conn
    out = Path(spec.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = eval_plan(conn, spec)
    steps = Steps(ctx, step_plan(spec, len(plan.trace_benchmarks(spec.trace_benchmark))))
    # 1. the BETR selection exists; 2. one tokenizer for every proxy
    steps.run("betr", "betr", lambda: ensure_applied(ctx, spec, steps.run_child))
    tok_path = out / "tokenizer.json"
    steps.run("tokenizer", "tokenizer", lambda: train_shared_tokenizer(conn, spec, tok_path))
    # 3. the frontier, then each selection at each size
    trained: dict[str, dict[str, Any]] = {}
    selection_of: dict[str, tuple[str, int]] = {}  # train step -> (selection, params)
    for dataset, params, order in proxies_to_train(spec):
        key, child = f"train:{dataset}:{params}", proxy_spec(spec, dataset, params, order, tok_path)
        title = f"train {dataset} ({abbreviate(params)} params)"
        trained[key] = steps.child(key, f"train:{params}", child, title)
        if order is not None:
            selection_of[key] = (order, params)
    # 4. traces with letter probabilities from the frontier
    bench = catalog.benchmark_by_name(conn, spec.trace_benchmark)
    if bench is None:
        raise UsageError(f"the demo experiment needs the benchmark '{spec.trace_benchmark}'")
    steps.run("traces", "traces", lambda: import_gold_traces(conn, plan))
    frontier_ckpt = trained[f"train:demo-frontier:{max(spec.sizes)}"]["checkpoints"][-1]
    frontier = proxies.get_proxy(conn, frontier_ckpt["proxy_id"])
    steps.child(
        "teacher-force",
        "teacher-force",
        TeacherForceSpec(benchmark_id=int(bench["id"]), model=frontier["path"], device=spec.device),
        f"teacher-force {spec.trace_benchmark} traces under {frontier['name']}",
    )
    # 5. rBridge, bpb on gold text and multiple choice for every checkpoint of the selections
    finals: dict[tuple[str, int], int] = {}
    for key, (order, params) in selection_of.items():
        checkpoints = trained[key]["checkpoints"]
        evaluate_checkpoints(steps, spec, bench, plan, str(params), checkpoints)
        finals[(order, params)] = int(checkpoints[-1]["proxy_id"])
    datasets = sorted({key.split(":")[1] for key in trained} - {"demo-frontier"})
    # 6. the verdict, from the final checkpoints' per-item values
    ctx.log.info("bootstrap intervals and paired differences over the held-out items")
    verdict = experiment_verdict(conn, spec, plan, finals)
    return {
        "datasets": datasets,
        "sizes": list(spec.sizes),
        "proxies": sum(len(r["checkpoints"]) for r in trained.values()),
        "trace_benchmark": spec.trace_benchmark,
        "mc_benchmarks": list(spec.mc_benchmarks),
        "children": dict(steps.checkpoint.children),
        "caveats": CAVEATS,
        "verdict": verdict.to_json(),
    }


class Steps:
    """The experiment's steps, checkpointed (ExperimentCheckpoint): the child job of each step,
    the steps finished, and how long each took, which gives the experiment's ETA."""

    def __init__(self, ctx: JobContext, plan: Counter[str]):
        self.ctx, self.plan = ctx, plan
        self.checkpoint = ctx.restore(ExperimentCheckpoint)
        self.current: tuple[str, float] | None = None  # the step in progress: group, start
        self.last_report = 0.0
        ctx.start_phase(sum(plan.values()), "steps", done=len(self.checkpoint.finished))
        ctx.steps_eta = lambda: steps_eta(plan, self.times())

    def run(self, key: str, group: str, work: Callable[[], Any]) -> None:
        """Step `key` (of `group`): `work()`, unless it finished before."""
        if key not in self.checkpoint.finished:
            self.current = (group, time.monotonic())
            work()
            self.finish(key)

    def child(self, key: str, group: str, child_spec: JobSpec, title: str) -> dict[str, Any]:
        """Step `key` as a child job: its result (from its job when it finished before)."""
        first = key not in self.checkpoint.finished
        if first:
            self.current = (group, time.monotonic())
        result = self.run_child(key, child_spec, title)
        if first:
            self.finish(key)
        return result

    def finish(self, key: str) -> None:
        group, seconds = None, 0.0
        if self.current is not None:
            group, seconds = self.current[0], round(time.monotonic() - self.current[1], 3)
            self.current = None
        self.checkpoint = self.checkpoint.step_done(key, group, seconds)
        self.ctx.advance(1, self.checkpoint)

    def times(self) -> list[tuple[str, float | None]]:
        steps = self.checkpoint.steps
        return [
            (*steps[k],) if k in steps else (step_group(k), None) for k in self.checkpoint.finished
        ]

    def run_child(self, key: str, child_spec: JobSpec, title: str) -> dict[str, Any]:
        """The child job of `key`: done -> its result; else (re)run it here."""
        from engine.jobs.worker import execute_job

        conn = self.ctx.conn
        job_id = self.checkpoint.children.get(key)
        if job_id is not None:
            job = table.get_job(conn, job_id)
            if job.state == "done":
                return job.result or {}
            if job.state in table.RESUMABLE:
                table.prepare_resume(conn, job_id)
        else:
            job_id = table.create_job(conn, child_spec.kind, title, child_spec.to_config())
            self.checkpoint = self.checkpoint.with_child(key, job_id)
            self.ctx.advance(0, self.checkpoint)
        self.ctx.log.info("step %s: job %d (%s)", key, job_id, title)
        return execute_job(self.ctx.workspace, job_id, on_progress=self.child_progress) or {}

    def child_progress(self, done, total, unit, rate, eta) -> None:
        """The experiment's ETA while a child runs: the child's own ETA and the steps left."""
        now = time.monotonic()
        if self.current is None or now - self.last_report < 1.0:
            return
        self.last_report = now
        running = RunningStep(self.current[0], now - self.current[1], eta)
        self.ctx.report_eta(steps_eta(self.plan, self.times(), running))


def proxies_to_train(spec: DemoExperimentSpec) -> list[tuple[str, int, str | None]]:
    """(dataset, params, selection order) of each proxy: the frontier (the larger size, the
    whole pool), then each selection at each size."""
    pct = int(spec.keep * 100)
    selections = [(f"demo-{o}-{pct}pct", p, o) for o in SELECTIONS for p in spec.sizes]
    return [("demo-frontier", max(spec.sizes), None), *selections]


def proxy_spec(
    spec: DemoExperimentSpec, dataset: str, params: int, order: str | None, tok_path: Path
) -> ProxyTrainSpec:
    """A proxy of `params` on a selection (`order`), or on the whole pool (None)."""
    return ProxyTrainSpec(
        corpus_id=spec.corpus_id,
        dataset=dataset,
        out_dir=str(Path(spec.out_dir) / f"{dataset}-{params}"),
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


def evaluate_checkpoints(
    steps: Steps,
    spec: DemoExperimentSpec,
    bench,
    plan: EvalPlan,
    params: str,
    checkpoints: list[dict],
) -> None:
    """Each checkpoint of one proxy scored with rBridge on the traces and evaluated on the
    multiple-choice benchmarks (the proxy curves and the fits read every checkpoint), and the
    final checkpoint scored on the other benchmarks' gold traces too (their bpb: what the
    verdict reads, from the final checkpoints only); each a step."""
    conn = steps.ctx.conn
    mc_ids = tuple(int(catalog.benchmark_by_name(conn, b)["id"]) for b in spec.mc_benchmarks)
    others = [catalog.benchmark_by_name(conn, b) for b in plan.trace_benchmarks(bench["name"])]
    for k, ck in enumerate(checkpoints):
        p = proxies.get_proxy(conn, ck["proxy_id"])
        steps.run(f"score:{p['id']}", f"score:{params}", partial(score, steps, spec, bench, p))
        for other in others if k == len(checkpoints) - 1 else ():
            key = f"bpb:{other['name']}:{p['id']}"
            steps.run(key, f"bpb:{params}", partial(score, steps, spec, other, p, key))
        mc = McEvalSpec(
            proxy_id=int(p["id"]), benchmark_ids=mc_ids, limit=spec.mc_limit, device=spec.device
        )
        title = f"mc-eval {p['name']} on {', '.join(spec.mc_benchmarks)}"
        steps.run(
            f"mc:{p['id']}", f"mc:{params}", partial(steps.run_child, f"mc:{p['id']}", mc, title)
        )


def score(
    steps: Steps,
    spec: DemoExperimentSpec,
    bench,
    proxy: dict[str, Any],
    key: str | None = None,
) -> None:
    """The rBridge score of a proxy on a benchmark's traces (step `key`, default
    score:<proxy id>), unless one is cached."""
    score_id, cached = plan_score_row(steps.ctx.conn, proxy, bench, ScoreConfig())
    if not cached:
        child = RbridgeScoreSpec(
            score_id=score_id,
            proxy_id=int(proxy["id"]),
            benchmark_id=int(bench["id"]),
            device=spec.device,
        )
        title = f"rbridge score {proxy['name']} on {bench['name']}"
        steps.run_child(key or f"score:{proxy['id']}", child, title)


def step_plan(spec: DemoExperimentSpec, bpb_benchmarks: int = 0) -> Counter[str]:
    """Every step of the experiment by group (steps of one group do the same work: the same
    kind at the same size): the BETR run, the tokenizer, the frontier and each selection's
    proxy at each size, the traces, their teacher forcing, per checkpoint an rBridge score and
    a multiple-choice evaluation, and per final checkpoint a score on each of `bpb_benchmarks`
    other benchmarks' gold traces."""
    plan = Counter({"betr": 1, "tokenizer": 1, f"train:{max(spec.sizes)}": 1})
    plan.update({"traces": 1, "teacher-force": 1})
    for params in spec.sizes:
        plan[f"train:{params}"] += len(SELECTIONS)
        plan[f"score:{params}"] += len(SELECTIONS) * spec.checkpoints
        if bpb_benchmarks:
            plan[f"bpb:{params}"] += len(SELECTIONS) * bpb_benchmarks
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


def import_gold_traces(conn, plan: EvalPlan) -> None:
    """The gold traces of every benchmark the experiment evaluates on (experiment_eval)."""
    for name, example_ids in plan.examples.items():
        bench = catalog.benchmark_by_name(conn, name)
        if bench is None:
            raise UsageError(f"the demo experiment needs the benchmark '{name}'")
        import_gold(conn, bench, example_ids)
