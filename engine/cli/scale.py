"""`betr embed --engine ray` and the Ray options of `betr apply --engine ray`: the same
per-batch operators as Ray Data actors over sharded files (engine.exec.ray), one Parquet file
out per input shard; a re-run skips the shards already written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from engine.cli.common import BetrCommand, echo, emit_json, obj, run_job
from engine.terminal import json_text

ADDRESS_HELP = "local (a Ray instance started for the job), auto, or HOST:PORT"


def ray_options(*, actors: int, batch_size: int) -> Callable[[Callable], Callable]:
    """The options every `--engine ray` command shares."""
    options = [
        click.option(
            "--engine",
            type=click.Choice(["local", "ray"]),
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


COMMANDS = (embed_cmd,)
