"""`betr contamination`: benchmark n-gram overlaps of a run's kept set (or whole pool), and the
check that `betr select --decontaminate` runs first when none covers its kept set."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from engine.api.select import SelectionExport

from engine.cli.common import KEEP_BY, BetrCommand, echo, emit_json, obj, print_table, run_job


def ensure_check(
    run_id: int,
    *,
    n: int,
    keep: float | None,
    by: str,
    all_docs: bool,
    workers: int | None = None,
    detach: bool = False,
) -> tuple[Any, int | None]:
    """(plan, job id): a finished check that covers the question, else a new one run here
    with a progress bar (or, detached, queued: its job id)."""
    from engine.api.contamination import plan_check
    from engine.api.jobs import start

    ws = obj().workspace
    plan = plan_check(ws, run_id, n=n, keep=keep, by=by, all_docs=all_docs, workers=workers)
    if plan.cached:
        return plan, None
    if detach:
        return plan, start(ws, plan.spec, title=plan.title)
    echo(f"checking {plan.upto:,} docs of run {run_id} for shared {n}-grams", err=True)
    run_job(plan.spec, False, title=plan.title)
    return plan, None


def select_decontaminated(
    run_id: int, keep: float, by: str, out: Path, *, n: int | None, replay: float, seed: int
) -> SelectionExport:
    """`betr select --decontaminate`: the check first when none covers the kept set (the
    whole pool with --replay), then the export without the contaminated docs."""
    from engine.api.contamination import DEFAULT_N, select_decontaminated

    n = DEFAULT_N if n is None else n
    ensure_check(run_id, n=n, keep=None if replay > 0 else keep, by=by, all_docs=replay > 0)
    return select_decontaminated(
        obj().workspace, run_id, keep, by, out, n=n, replay=replay, seed=seed
    )


@click.command("contamination", cls=BetrCommand)
@click.option("--run", "run_id", type=int, required=True)
@click.option("--n", type=int, default=13, show_default=True, help="Words per n-gram, 8..50.")
@click.option("--keep", default=None, help="The kept set to check, e.g. 10% (default 10%).")
@click.option("--by", type=KEEP_BY, default="tokens", show_default=True)
@click.option("--all", "all_docs", is_flag=True, help="Check the whole pool, not the kept set.")
@click.option("--workers", type=int, default=None, help="Processes (default: by size).")
@click.option("--detach", is_flag=True, help="Run as a background job and return at once.")
def contamination_cmd(run_id, n, keep, by, all_docs, workers, detach):
    """Docs of the run's kept set (or, with --all, of its whole pool) that share a word n-gram
    (lowercased, punctuation stripped) with an example of any imported benchmark, evaluation
    splits first. A finished check that covers the question is reused."""
    from engine.api.contamination import DEFAULT_KEEP, contamination_hits
    from engine.api.select import parse_keep

    fraction = None if keep is None else parse_keep(keep)
    plan, job_id = ensure_check(
        run_id, n=n, keep=fraction, by=by, all_docs=all_docs, workers=workers, detach=detach
    )
    if job_id is not None:
        if obj().json:
            emit_json({"job_id": job_id, "check_id": plan.check_id, "state": "queued"})
        else:
            echo(f"job {job_id} checks run {run_id} in the background: betr jobs show {job_id}")
        return
    if not all_docs and fraction is None:
        fraction = DEFAULT_KEEP
    hits = contamination_hits(
        obj().workspace, run_id, n=n, keep=fraction, by=by, check_id=plan.check_id
    )
    if obj().json:
        emit_json([h.as_row() for h in hits])
        return
    columns = [(k, k) for k in ("doc", "benchmark", "example", "start", "end", "ngrams")]
    print_table([h.as_row() for h in hits], columns, "no overlaps")
    docs = len({h.doc_id for h in hits})
    scope = "the whole pool" if all_docs else f"the kept {fraction * 100:g}% (by {by})"
    echo(
        f"run {run_id}: {len(hits)} overlap(s) in {docs} doc(s) of {scope}, n = {n}"
        + (" (cached check)" if plan.cached else "")
    )


COMMANDS = (contamination_cmd,)
