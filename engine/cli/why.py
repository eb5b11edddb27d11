"""`betr why`: the target examples nearest a doc (the viewer's "why this doc" pane)."""

from __future__ import annotations

import click

from engine.cli.common import BetrCommand, echo, emit_json, obj


@click.command("why", cls=BetrCommand)
@click.option("--run", "run_id", type=int, required=True)
@click.option("--doc", "doc_id", type=int, required=True, help="Doc id (as `betr docs` lists).")
@click.option("-k", "k", type=int, default=5, show_default=True, help="How many examples.")
@click.option(
    "--embed",
    is_flag=True,
    help="Embed the doc first when it is outside the scored sample (cached afterwards).",
)
def why_cmd(run_id: int, doc_id: int, k: int, embed: bool) -> None:
    """The k target examples nearest the doc by cosine, with the rank the doc has (or would
    have) among the run's scored sample for each."""
    from engine.api.why import why_doc

    if k < 1:
        raise click.UsageError("-k must be at least 1")
    result = why_doc(obj().workspace, run_id, doc_id, k=k, embed=embed)
    if obj().json:
        emit_json(result.to_json())
        return
    if not result.examples:
        hint = " (add --embed to embed it)" if not embed else ""
        echo(f"doc {doc_id}: no nearest examples: {result.reason}{hint}")
        return
    sample = result.sample or 0
    echo(
        f"doc {doc_id}: the {len(result.examples)} nearest target examples"
        + (" (embedded now)" if result.embedded_now else "")
        + f"; rank = the doc's rank among the {sample:,}-doc scored sample for that example"
    )
    echo(f"{'cosine':>7} {'rank':>7}  {'benchmark':<14} {'example':<14} question")
    for e in result.examples:
        rank = "-" if e.rank is None else f"#{e.rank:,}"
        question = (e.question or e.text or "").replace("\n", " ")[:90]
        echo(f"{e.cosine:7.4f} {rank:>7}  {e.benchmark[:14]:<14} {e.ext_id[:14]:<14} {question}")


COMMANDS = (why_cmd,)
