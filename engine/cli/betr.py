"""`betr targets | score | train | apply | select | ranked | runs`: a BETR run, step by step."""

from __future__ import annotations

import json
from pathlib import Path

import click

from engine.cli.common import (
    KEEP_BY,
    BetrCommand,
    BetrGroup,
    RegistryChoice,
    echo,
    emit_json,
    emit_json_line,
    obj,
    print_table,
    run_job,
)
from engine.cli.dups import dup_kinds
from engine.cli.scale import ray_apply, ray_options
from engine.cli.workspace import show_list
from engine.terminal import json_text


def _aggregations():
    from engine.api.runs import AGGREGATIONS

    return AGGREGATIONS


DETACH = click.option("--detach", is_flag=True, help="Run as a background job and return at once.")


@click.group("targets", cls=BetrGroup)
def targets_group() -> None:
    """Target sets: named groups of benchmarks to score against."""


@targets_group.command("create")
@click.argument("name")
@click.option("--bench", "benches", required=True, help="Comma-separated benchmark names.")
def targets_create(name: str, benches: str) -> None:
    """Create target set NAME from --bench a,b,c (e.g. core and a disjoint noncore set)."""
    from engine.api.catalog import create_target_set

    result = create_target_set(obj().workspace, name, benches)
    if obj().json:
        emit_json(result.to_json())
    else:
        echo(f"target set '{name}': {', '.join(result.benchmarks)}")


@targets_group.command("list")
def targets_list() -> None:
    """List target sets with their benchmarks."""
    show_list("targets")


@click.command("score", cls=BetrCommand)
@click.option("--corpus", required=True, help="Corpus to score (the pool P).")
@click.option("--targets", required=True, help="A target set name, or benchmarks b1,b2,...")
@click.option("--sample", type=int, default=None, help="Sample size S (default min(|P|, 100000)).")
@click.option("--embedder", default=None, help="Model dir (default: bundled all-MiniLM-L6-v2).")
@click.option(
    "--aggregate",
    type=RegistryChoice(_aggregations),
    default="max-rank",
    show_default=True,
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--positive-frac", type=float, default=0.10, show_default=True)
@click.option(
    "--per-benchmark",
    default=None,
    metavar="N|min",
    help="Balanced targets: draw N examples from each benchmark (seeded by --seed); min: the "
    "smallest benchmark's size. Default: every example.",
)
@click.option(
    "--holdout",
    type=float,
    default=0.0,
    show_default=True,
    help="Hold this share of each target benchmark's examples out of the run (seeded by "
    "--seed; recorded in the run's config) to evaluate on text BETR never saw. 0: none.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N, mps.")
@DETACH
def score_cmd(
    corpus,
    targets,
    sample,
    embedder,
    aggregate,
    seed,
    positive_frac,
    per_benchmark,
    holdout,
    device,
    detach,
):
    """Score a sample of a corpus against target benchmarks (embed, rank); prints the run id."""
    from engine.api.jobs import start
    from engine.api.runs import ScoreRequest, plan_score, score_spec

    ws = obj().workspace
    req = ScoreRequest(
        corpus,
        targets,
        sample,
        embedder,
        aggregate,
        seed,
        positive_frac,
        per_benchmark=per_benchmark,
        holdout=holdout,
    )
    plan = plan_score(ws, req)
    for note in plan.notes:
        echo(f"note: {note}", err=True)
    for warning in plan.warnings:
        echo(f"warning: {warning}", err=True)
    if plan.cached:
        echo(f"run {plan.run_id} already scored with this config: reusing it", err=True)
    elif detach:
        job_id = start(ws, score_spec(plan, device), title=plan.title)
        if obj().json:
            emit_json(
                {"run_id": plan.run_id, "job_id": job_id, "cached": False, "notes": plan.notes}
            )
        else:
            echo(f"run {plan.run_id}: scoring in the background as job {job_id}")
        return
    else:
        run_job(score_spec(plan, device), False, title=plan.title)
    if obj().json:
        emit_json({"run_id": plan.run_id, "cached": plan.cached, "notes": plan.notes})
    else:
        echo(f"run {plan.run_id}" + (" (cached)" if plan.cached else " scored"))


def run_stage(stage: str, run_id: int, detach: bool, **kwargs) -> None:
    from engine.api.runs import stage_spec

    result = run_job(stage_spec(obj().workspace, stage, run_id, **kwargs), detach)
    if result is None:
        return
    emit_json(result) if obj().json else echo(json_text(result))
    for warning in result.get("warnings", []):  # a degenerate classifier
        echo(f"warning: run {run_id}: {warning}", err=True)


@click.command("train", cls=BetrCommand)
@click.option("--run", "run_id", type=int, required=True)
@click.option("--positive-frac", type=float, default=None, help="Top share labelled positive.")
@click.option(
    "--epoch",
    type=int,
    default=None,
    help="fastText epochs (default: 5, the paper's, from 80,000 training docs; up to 50 below).",
)
@click.option(
    "--lr",
    type=float,
    default=None,
    help="fastText learning rate (default: 0.03, the paper's, from 80,000 training docs; up to "
    "1.0 below).",
)
@click.option("--dim", type=int, default=None, help="fastText dimension (default 128).")
@click.option("--word-ngrams", type=int, default=None, help="fastText wordNgrams (default 2).")
@click.option("--min-count", type=int, default=None, help="fastText minCount (default 5).")
@click.option(
    "--bucket",
    type=int,
    default=None,
    help="fastText hash buckets (default: one per 16 word n-grams of the training text, a "
    "power of two, 16,384 to 2M).",
)
@click.option("--detach", is_flag=True)
def train_cmd(run_id, positive_frac, epoch, lr, dim, word_ngrams, min_count, bucket, detach):
    """Label the scored sample (top share positive, balanced) and train the fastText classifier
    (settings for the training set's size; warns when the classifier is degenerate)."""
    from engine.api.runs import fasttext_params

    params = fasttext_params(
        epoch=epoch, lr=lr, dim=dim, word_ngrams=word_ngrams, min_count=min_count, bucket=bucket
    )
    run_stage("train", run_id, detach, positive_frac=positive_frac, fasttext=params)


@click.command("apply", cls=BetrCommand)
@click.option("--run", "run_id", type=int, required=True)
@ray_options(actors=2, batch_size=4096)
@click.option("--tokenizer", default=None, help="(ray) Token counts (default: the corpus's).")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="(local) Processes (default: every core; one for under 20,000 docs).",
)
@click.option("--detach", is_flag=True)
def apply_cmd(run_id, detach, engine, tokenizer, workers, **ray):
    """Score every doc of the run's corpus with the classifier (chunked, resumable, on every
    core); with --engine ray, the docs of --input shards instead, Parquet out to --out."""
    if engine == "ray":
        if workers is not None:
            raise click.UsageError("--workers goes with --engine local (ray: --actors)")
        ray_apply(run_id, detach, tokenizer, **ray)
        return
    if ray["inputs"] or ray["out_dir"]:
        raise click.UsageError("--input and --out go with --engine ray")
    run_stage("apply", run_id, detach, workers=workers)


@click.command("select", cls=BetrCommand)
@click.option("--run", "run_id", type=int, required=True)
@click.option("--keep", required=True, help="Share to keep, e.g. 10%.")
@click.option("--by", type=KEEP_BY, default="tokens", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help=".jsonl or .parquet")
@click.option(
    "--replay",
    type=float,
    default=0.0,
    help="Add this share (of the kept count) of random non-kept docs.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--decontaminate",
    is_flag=True,
    help="Leave out docs sharing a word n-gram with a benchmark example (checks them first "
    "when no contamination check covers the kept set).",
)
@click.option("--n", "ngram", type=int, default=None, help="(--decontaminate) n, default 13.")
@click.option(
    "--dedup",
    type=RegistryChoice(dup_kinds),
    default=None,
    help="Keep one doc per exact or near duplicate cluster (its highest p); near needs "
    "`betr dups --corpus C --near` first.",
)
def select_cmd(run_id, keep, by, out, replay, seed, decontaminate, ngram, dedup):
    """Keep the top docs by p(positive) until X% of tokens (or docs) and export them."""
    from engine.api.select import parse_keep, select_and_export, selection_warnings

    if ngram is not None and not decontaminate:
        raise click.UsageError("--n goes with --decontaminate")
    if dedup and decontaminate:
        raise click.UsageError("--dedup and --decontaminate go one at a time")
    share = parse_keep(keep)
    warnings = selection_warnings(obj().workspace, run_id)
    for warning in warnings:  # before anything is written
        echo(f"warning: run {run_id}: {warning}", err=True)
    if decontaminate:
        from engine.cli.contamination import select_decontaminated

        result = select_decontaminated(
            run_id, share, by, Path(out), n=ngram, replay=replay, seed=seed
        )
    elif dedup:
        from engine.cli.dups import select_deduplicated

        result = select_deduplicated(run_id, share, by, Path(out), dedup, replay=replay, seed=seed)
    else:
        result = select_and_export(
            obj().workspace, run_id, share, by, Path(out), replay=replay, seed=seed
        )
    if obj().json:
        emit_json({**result.to_json(), "warnings": warnings})
    else:
        echo(
            f"kept {result.kept_docs} of {result.total_docs} docs, {result.kept_tokens} of "
            f"{result.total_tokens} tokens (p >= {result.threshold:.4f})"
            + (
                f", dropped {result.dropped_docs} contaminated docs "
                f"({result.dropped_tokens} tokens)"
                if decontaminate
                else ""
            )
            + (
                f", dropped {result.dropped_docs} {dedup} duplicate docs "
                f"({result.dropped_tokens} tokens; one kept per cluster, the highest p)"
                if dedup
                else ""
            )
            + (f", + {result.replay_docs} replay docs" if result.replay_docs else "")
            + f" -> {out}"
        )


@click.command("ranked", cls=BetrCommand)
@click.option("--run", "run_id", type=int, required=True)
@click.option("--limit", type=int, default=None)
@click.option("--offset", type=int, default=0)
def ranked_cmd(run_id, limit, offset):
    """The scored sample, best first: one JSON object per line with --json."""
    from engine.api.runs import ranked

    rows = [r.to_json() for r in ranked(obj().workspace, run_id, limit=limit, offset=offset)]
    if obj().json:
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


@click.group("runs", cls=BetrGroup)
def runs_group() -> None:
    """Runs: list and show."""


@runs_group.command("list")
def runs_list() -> None:
    """Runs, newest first (with a warning for targets from an evaluation split)."""
    show_list("runs")


@runs_group.command("show")
@click.argument("run_id", type=int)
def runs_show(run_id: int) -> None:
    """A run's full config, sizes, metrics and timings."""
    from engine.api.run_targets import targets_line
    from engine.api.runs import run_summary

    detail = run_summary(obj().workspace, run_id)
    run = detail.to_json()
    if obj().json:
        emit_json(run)
        return
    config = dict(run["config"])
    if config.get("target_examples"):  # the drawn ids: --json lists them
        config["target_examples"] = {
            name: f"{len(ids)} ids" for name, ids in config["target_examples"].items()
        }
    if config.get("holdout"):  # the held-out ids likewise
        held = config["holdout"]["held_out"]
        config["holdout"] = {
            **config["holdout"],
            "held_out": {name: f"{len(ids)} ids" for name, ids in held.items()},
        }
    echo(f"run {run['id']} ({run['kind']}): {run['name']}  [{run['state']}]")
    echo(f"  config  {json.dumps(config, sort_keys=True)}")
    if run["targets"]:
        echo(f"  targets {targets_line(detail)}")
    echo(f"  sample  {run['sample_docs']} docs   applied {run['applied_docs']} docs")
    echo(f"  metrics {json.dumps(run['metrics'], sort_keys=True)}")
    for warning in run["warnings"]:
        echo(f"warning: {warning}")


COMMANDS = (
    targets_group,
    score_cmd,
    train_cmd,
    apply_cmd,
    select_cmd,
    ranked_cmd,
    runs_group,
)
