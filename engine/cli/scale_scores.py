"""`betr threshold --scores DIR --keep X%`: the exact keep threshold over the Parquet shards of
`betr apply --engine ray`, in two passes over the shards (Ray tasks with --engine ray), without
importing them."""

from __future__ import annotations

import click

from engine.cli.common import KEEP_BY, BetrCommand, echo, emit_json, obj

ADDRESS_HELP = "local (a Ray instance started for the command), auto, or HOST:PORT"


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
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--address", default="local", show_default=True, help=ADDRESS_HELP)
@click.option("--num-cpus", type=int, default=None, help="CPUs of a local Ray instance.")
def threshold_cmd(scores_dir, keep, by, run_id, engine, address, num_cpus):
    """The p(positive) threshold keeping the top X% of sharded scores, exact to one doc."""
    from engine.api.scale_threshold import scale_threshold
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
        emit_json(result)
        return
    echo(
        f"keep {result['keep'] * 100:g}% of {by}: threshold p >= {result['threshold']:.6g}, "
        f"{result['kept_docs']} of {result['total_docs']} docs, "
        f"{result['kept_tokens']} of {result['total_tokens']} tokens "
        f"(ties by {result['tie']})"
    )


COMMANDS = (threshold_cmd,)
