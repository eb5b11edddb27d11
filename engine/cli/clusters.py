"""`betr clusters`: topic clusters of a run's scored sample, with what the keep rate keeps of
each (computed as a job here, with a progress bar, when not cached)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from engine.api.clusters import ClustersReport

from engine.cli.common import KEEP_BY, BetrCommand, echo, emit_json, obj, print_table, run_job


def _pct(x: float | None) -> str | None:
    return None if x is None else f"{x * 100:.1f}%"


@click.command("clusters", cls=BetrCommand)
@click.option("--run", "run_id", type=int, required=True)
@click.option("--k", type=int, default=None, help="Clusters (default: from the sample size).")
@click.option("--seed", type=int, default=0, show_default=True, help="k-means seed.")
@click.option("--keep", default=None, help="Keep rate for the kept shares, e.g. 10% (default).")
@click.option("--by", type=KEEP_BY, default="tokens", show_default=True)
@click.option("--detach", is_flag=True, help="Compute as a background job and return at once.")
def clusters_cmd(run_id, k, seed, keep, by, detach):
    """Topic clusters of the run's scored sample: k-means (faiss, spherical, seeded) on its
    cached embedding vectors, each cluster titled by its most distinctive words (c-TF-IDF).
    Per cluster: docs, tokens, the share of it kept at --keep vs the whole pool's, how many of
    its docs each target benchmark is the best match of, and the target examples nearest its
    centroid. Default k: round(sqrt(n / 2)) of the n-doc sample, clamped to 2..50. Cached by
    (run, k, seed)."""
    from engine.api.clusters import plan_clusters, report
    from engine.api.jobs import start
    from engine.api.select import parse_keep

    fraction = None if keep is None else parse_keep(keep)
    ws = obj().workspace
    plan = plan_clusters(ws, run_id, k=k, seed=seed)
    if not plan.cached:
        assert plan.spec is not None  # only a cached plan has none
        if detach:
            job_id = start(ws, plan.spec, title=plan.title)
            if obj().json:
                emit_json({"job_id": job_id, "state": "queued", "k": plan.k, "seed": seed})
            else:
                echo(
                    f"job {job_id} clusters run {run_id} in the background: betr jobs show {job_id}"
                )
            return
        echo(f"clustering the {plan.sample_docs:,}-doc scored sample of run {run_id}", err=True)
        run_job(plan.spec, False, title=plan.title)
    result = report(ws, run_id, k=k, seed=seed, keep=fraction, by=by)
    if obj().json:
        emit_json(result.to_json())
        return
    print_rows(result)


def print_rows(result: ClustersReport) -> None:
    applied = result.keep is not None
    columns = [("cluster", "#"), ("title", "title"), ("docs", "docs"), ("tokens", "tokens")]
    if applied:
        columns += [("kept", "kept"), ("lift", "vs pool")]
    columns += [("pull", "best match of"), ("nearest", "nearest example")]
    rows = []
    for c in result.clusters:
        pull = ", ".join(f"{b} {n}" for b, n in list(c["pull"].items())[:3])
        near = c["nearest"][0] if c["nearest"] else None
        rows.append(
            {
                "cluster": c["cluster"],
                "title": " ".join(c["title"][:4]) or "-",
                "docs": f"{c['docs']:,}",
                "tokens": f"{c['tokens']:,}",
                "kept": _pct(c.get("kept_share")),
                "lift": None if c.get("lift") is None else f"x{c['lift']:.2f}",
                "pull": pull or None,
                "nearest": None
                if near is None
                else f"{near['benchmark']}/{near['example']} ({near['cosine']:.2f})",
            }
        )
    print_table(rows, columns, "no clusters")
    how = f"k = {result.k}" + (f" ({result.k_rule})" if result.k_rule else "")
    line = f"run {result.run_id}: {result.k} clusters on {result.on} ({how}, seed {result.seed})"
    if applied:
        line += (
            f"; kept at {result.keep * 100:g}% of {result.by}: the pool keeps "
            f"{_pct(result.pool_share)}, the sample {_pct(result.sample_share)}"
        )
    else:
        line += "; the run is not applied, so no kept shares (betr apply)"
    echo(line)


COMMANDS = (clusters_cmd,)
