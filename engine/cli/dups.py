"""`betr dups`: a corpus's exact duplicates (hashed at import) and near duplicates (MinHash LSH,
`--near` runs the job), and the select that keeps one doc per cluster (`betr select --dedup`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.cli.common import (
    BetrCommand,
    RegistryChoice,
    echo,
    emit_json,
    obj,
    print_table,
    progress_bar,
    run_job,
)

if TYPE_CHECKING:
    from engine.api.select import SelectionExport

KINDS = ("exact", "near", "all")


def _shingle_hashes():
    from engine.api.dups import SHINGLE_HASHES

    return SHINGLE_HASHES


def dup_kinds():
    from engine.api.dups import DUP_KINDS

    return DUP_KINDS


def hash_missing(corpus: str) -> None:
    """Exact hashes for the corpus's docs that have none (written without the import job)."""
    from engine.api.dups import backfill_exact_hashes

    with progress_bar(f"exact hashes of {corpus}", "docs", job_eta=False) as update:
        n = backfill_exact_hashes(obj().workspace, corpus, progress=update)
    if n:
        echo(f"hashed {n:,} doc(s) of {corpus} that had no exact hash", err=True)


def select_deduplicated(
    run_id: int, keep: float, by: str, out: Path, kind: str, *, replay: float, seed: int
) -> SelectionExport:
    """`betr select --dedup KIND`: exact hashes first where missing, then the export."""
    from engine.api.dups import corpus_of_run
    from engine.api.dups import select_deduplicated as export

    hash_missing(corpus_of_run(obj().workspace, run_id))
    return export(obj().workspace, run_id, keep, by, out, kind, replay=replay, seed=seed)


@click.command("dups", cls=BetrCommand)
@click.option("--corpus", required=True, help="The corpus to list (betr list corpora).")
@click.option(
    "--kind", type=click.Choice(KINDS), default="all", show_default=True, help="Clusters to list."
)
@click.option("--near", "run_near", is_flag=True, help="Detect near duplicates first (a job).")
@click.option("--again", is_flag=True, help="(--near) Run it even if a result exists.")
@click.option(
    "--ngrams", type=int, default=5, show_default=True, help="(--near) Words per shingle."
)
@click.option("--bands", type=int, default=14, show_default=True, help="(--near) LSH bands.")
@click.option("--rows", type=int, default=8, show_default=True, help="(--near) Rows per band.")
@click.option("--seed", type=int, default=1, show_default=True, help="(--near) Permutation seed.")
@click.option(
    "--hash",
    "shingle_hash",
    type=RegistryChoice(lambda: _shingle_hashes()),
    default="poly64",
    show_default=True,
    help="(--near) Shingle hash: poly64 (vectorised) or sha1 (datatrove's, bit for bit).",
)
@click.option("--workers", type=int, default=None, help="(--near) Processes (default: by size).")
@click.option("--detach", is_flag=True, help="(--near) Run the job in the background.")
def dups_cmd(
    corpus, kind, run_near, again, ngrams, bands, rows, seed, shingle_hash, workers, detach
):
    """Duplicate clusters of a corpus: exact (same text after Unicode NFC, lowercasing and
    collapsing whitespace; hashed at import) and near (MinHash LSH over word n-grams, by
    default datatrove's: 5-grams, 112 permutations in 14 bands x 8 rows). --near runs the
    near-duplicate job over the whole corpus first (resumable: betr jobs resume ID); a result
    with the same parameters is reused."""
    from engine.api.dups import MinHashParams, dup_clusters, plan_near_dups

    near_flags = (ngrams, bands, rows, seed, shingle_hash) != (5, 14, 8, 1, "poly64")
    if not run_near and (near_flags or again or workers is not None or detach):
        raise click.UsageError(
            "--ngrams, --bands, --rows, --seed, --hash, --again, --workers "
            "and --detach go with --near"
        )
    hash_missing(corpus)
    if run_near:
        params = MinHashParams(ngrams, bands, rows, seed, shingle_hash)
        plan = plan_near_dups(obj().workspace, corpus, params, workers=workers, again=again)
        if not plan.cached:
            echo(f"near duplicates of {corpus}: {params.describe()}", err=True)
            if run_job(plan.spec, detach, title=plan.title) is None and detach:
                return
        else:
            echo(f"near duplicates of {corpus}: reusing run {plan.near_run_id}", err=True)
    listing = dup_clusters(obj().workspace, corpus)
    kinds = dup_kinds() if kind == "all" else (kind,)
    clusters = listing.clusters(kinds)
    if obj().json:
        emit_json([c.to_json() for c in clusters])
        return
    table = [
        {
            "kind": c.kind,
            "size": len(c.members),
            "tokens": c.tokens,
            "members": ", ".join(c.members[:4]) + (" …" if len(c.members) > 4 else ""),
        }
        for c in clusters
    ]
    columns = [("kind", "kind"), ("size", "docs"), ("tokens", "tokens"), ("members", "members")]
    print_table(table, columns, "no duplicate clusters")
    for k in kinds:
        found = [c for c in clusters if c.kind == k]
        extra = sum(len(c.members) - 1 for c in found)
        if k == "near" and listing.near is None:
            echo(
                f"near duplicates of {corpus} were never detected: betr dups --corpus {corpus} "
                "--near"
            )
            continue
        how = "same text after NFC, lowercase, collapsed whitespace"
        if k == "near" and listing.near_run is not None:
            how = f"MinHash LSH, {listing.near_run.parameters}"
        echo(f"{k}: {len(found):,} cluster(s), {extra:,} doc(s) beyond one per cluster ({how})")


COMMANDS = (dups_cmd,)
