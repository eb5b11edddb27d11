"""Scale-out verbs (engine.api.scale): `betr embed --engine ray` and the Ray options of `betr
apply --engine ray` (the same per-batch operators as Ray Data actors over sharded files, one
Parquet file out per input shard; a re-run skips the shards already written), and `betr
threshold --scores DIR --keep X%` (the exact keep threshold over the Parquet shards of a Ray
apply, in two passes over the shards, Ray tasks with --engine ray, without importing them).
`betr import scores` is with the other imports (engine.cli.imports)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from engine.cli.common import KEEP_BY, BetrCommand, RegistryChoice, echo, emit_json, obj, run_job
from engine.terminal import json_text

ADDRESS_HELP = "local (a Ray instance started for the job), auto, or HOST:PORT"


def _engines() -> tuple[str, ...]:
    from engine.api.scale import ENGINES

    return ENGINES


ENGINE = RegistryChoice(_engines)


def ray_options(*, actors: int, batch_size: int) -> Callable[[Callable], Callable]:
    """The options every `--engine ray` command shares."""
    options = [
        click.option(
            "--engine",
            type=ENGINE,
            default="local",
            show_default=True,
            help="ray: Ray Data actors over --input shards, Parquet out to --out.",
        ),
        click.option(
            "--input",
            "inputs",
            multiple=True,
            help="(ray) Shard files or globs: JSONL (.gz, .zst) or Parquet. Repeatable.",
        ),
        click.option("--out", "out_dir", default=None, help="(ray) Output directory."),
        click.option("--address", default="local", show_default=True, help=ADDRESS_HELP),
        click.option("--actors", type=int, default=actors, show_default=True),
        click.option(
            "--actor-cpus",
            type=float,
            default=None,
            help="CPUs per actor (default: fit the actors to the CPUs, leaving 0.25 for reads).",
        ),
        click.option("--batch-size", type=int, default=batch_size, show_default=True),
        click.option(
            "--num-cpus", type=int, default=None, help="CPUs of a local instance (default: all)."
        ),
        click.option("--text-field", default="text", show_default=True),
        click.option(
            "--id-field", default=None, help="Default: 'id' when present, else FILE:LINE."
        ),
    ]

    def wrap(fn: Callable) -> Callable:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return wrap


def run_ray_job(spec: Any, detach: bool) -> None:
    result = run_job(spec, detach)
    if result is not None:
        emit_json(result) if obj().json else echo(json_text(result))


def ray_apply(run_id: int, detach: bool, tokenizer: str | None, **options: Any) -> None:
    """`betr apply --engine ray ...` (called by the apply command)."""
    from engine.api.scale import ray_apply_spec

    options.pop("engine", None)
    run_ray_job(ray_apply_spec(obj().workspace, run_id, tokenizer=tokenizer, **options), detach)


@click.command("embed", cls=BetrCommand)
@ray_options(actors=1, batch_size=256)
@click.option("--embedder", default=None, help="Embedder model directory or name.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--detach", is_flag=True)
def embed_cmd(engine, detach, **options):
    """Embed sharded files with Ray Data (GPU actors when GPUs exist): --engine ray."""
    from engine.api.scale import ray_embed_spec

    if engine != "ray":
        raise click.UsageError("betr embed runs on Ray only: pass --engine ray")
    run_ray_job(ray_embed_spec(**options), detach)


@click.command("threshold", cls=BetrCommand)
@click.option("--scores", "scores_dir", required=True, help="Output directory of a Ray apply.")
@click.option("--keep", required=True, help="Share to keep, e.g. 10%.")
@click.option("--by", type=KEEP_BY, default="tokens", show_default=True)
@click.option(
    "--run",
    "run_id",
    type=int,
    default=None,
    help="Break ties by the doc ids of this run's corpus (as `betr select` does); "
    "default: input order.",
)
@click.option("--engine", type=ENGINE, default="local", show_default=True)
@click.option(
    "--address",
    default="local",
    show_default=True,
    help="local (a Ray instance started for the command), auto, or HOST:PORT",
)
@click.option("--num-cpus", type=int, default=None, help="CPUs of a local Ray instance.")
def threshold_cmd(scores_dir, keep, by, run_id, engine, address, num_cpus):
    """The p(positive) threshold keeping the top X% of sharded scores, exact to one doc."""
    from engine.api.scale import scale_threshold
    from engine.api.select import parse_keep

    result = scale_threshold(
        scores_dir,
        parse_keep(keep),
        by,
        workspace=obj().workspace if run_id is not None else None,
        run_id=run_id,
        engine=engine,
        address=address,
        num_cpus=num_cpus,
    )
    if obj().json:
        emit_json(result.to_json())
        return
    echo(
        f"keep {result.keep * 100:g}% of {by}: threshold p >= {result.threshold:.6g}, "
        f"{result.kept_docs} of {result.total_docs} docs, "
        f"{result.kept_tokens} of {result.total_tokens} tokens "
        f"(ties by {result.tie})"
    )


COMMANDS = (embed_cmd, threshold_cmd)
