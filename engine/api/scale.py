"""Scale-out use cases (engine.exec.scale): the checked specs of `betr apply --engine ray` and
`betr embed --engine ray` (the jobs: engine.jobs.kinds.scale), of `betr import scores DIR --run
R` (a Ray apply's Parquet shards into a run), and `betr threshold --scores DIR --keep X%` (the
exact keep threshold over those shards, without loading them into the workspace).

Paths become absolute (the worker may not share the caller's working directory), the inputs
must name files, Ray must be installed (a UsageError says how to install it otherwise), and for
apply the run must be trained or applied, with its classifier and a tokenizer to count with; an
import needs a directory of shards and a run that is trained (it has a classifier) or applied,
with no active job using it.

Threshold ties in probability are broken as the local engine breaks them: with `--run R`, by
the doc ids of the run's corpus (the ids in the shards matched to its docs), so the numbers
equal `betr select --run R` once the scores are imported; without, by input order (the shard's
source file, then the row), which is the doc id order of a corpus imported from those files in
that order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from engine.api.records import Record
from engine.betr.runs import require_state
from engine.betr.scale import Threshold
from engine.errors import InputError, UsageError
from engine.exec.scale import ENGINES as ENGINES  # for the faces
from engine.exec.scale.session import import_ray
from engine.exec.scale.shards import check_out_dir, expand_inputs
from engine.exec.scale.threshold import TieOf, input_order_tie, score_shards, shard_threshold
from engine.jobs.kinds.scale.shards import apply_inputs
from engine.jobs.specs import ImportScoresSpec, RayApplySpec, RayEmbedSpec
from engine.jobs.table import refuse_if_in_use
from engine.store import runs as store_runs
from engine.store.docs import match_ext_ids
from engine.workspace import Workspace


def _common(inputs: Sequence[str], out_dir: str | None) -> tuple[tuple[str, ...], str]:
    if not inputs:
        raise UsageError("--engine ray needs --input", fix="e.g. --input 'shards/*.jsonl.gz'")
    if not out_dir:
        raise UsageError("--engine ray needs --out DIR (one Parquet file per input shard)")
    import_ray()  # fails with the install command when the extra is missing
    absolute = tuple(
        os.path.abspath(os.path.expanduser(p)) for p in inputs
    )  # globs stay globs, anchored
    expand_inputs(absolute)  # every pattern names at least one readable shard
    out = os.path.abspath(os.path.expanduser(out_dir))
    check_out_dir(out)
    return absolute, out


def ray_apply_spec(
    workspace: Workspace,
    run_id: int,
    *,
    inputs: Sequence[str],
    out_dir: str | None,
    address: str = "local",
    actors: int = 2,
    actor_cpus: float | None = None,
    batch_size: int = 4096,
    num_cpus: int | None = None,
    text_field: str = "text",
    id_field: str | None = None,
    tokenizer: str | None = None,
) -> RayApplySpec:
    """The spec of a Ray apply of run `run_id`'s classifier over the shards `inputs`."""
    paths, out = _common(inputs, out_dir)
    with closing(workspace.connect(readonly=True)) as conn:
        _run, _art, corpus_tokenizer = apply_inputs(conn, run_id)
        refuse_if_in_use(conn, "run", run_id, str(run_id))
    tok = tokenizer or corpus_tokenizer
    if tokenizer is None:
        from engine.tokenize import load_tokenizer

        try:
            load_tokenizer(tok)
        except UsageError:
            raise UsageError(
                f"the corpus's tokenizer '{tok}' cannot be loaded by name",
                fix="pass --tokenizer (a bundled name, a tokenizer.json or a model directory)",
            ) from None
    elif os.path.exists(os.path.expanduser(tokenizer)):
        tok = os.path.abspath(os.path.expanduser(tokenizer))
    return RayApplySpec(
        run_id=run_id,
        inputs=paths,
        out_dir=out,
        address=address,
        num_cpus=num_cpus,
        actors=actors,
        actor_cpus=actor_cpus,
        batch_size=batch_size,
        text_field=text_field,
        id_field=id_field,
        tokenizer=tok,
    )


def ray_embed_spec(
    *,
    inputs: Sequence[str],
    out_dir: str | None,
    embedder: str | None = None,
    address: str = "local",
    actors: int = 1,
    actor_cpus: float | None = None,
    batch_size: int = 256,
    num_cpus: int | None = None,
    device: str = "auto",
    text_field: str = "text",
    id_field: str | None = None,
) -> RayEmbedSpec:
    """The spec of a Ray embedding of the shards `inputs`."""
    paths, out = _common(inputs, out_dir)
    if embedder and os.path.exists(os.path.expanduser(embedder)):
        embedder = os.path.abspath(os.path.expanduser(embedder))
    return RayEmbedSpec(
        inputs=paths,
        out_dir=out,
        embedder=embedder,
        address=address,
        num_cpus=num_cpus,
        actors=actors,
        actor_cpus=actor_cpus,
        batch_size=batch_size,
        device=device,
        text_field=text_field,
        id_field=id_field,
    )


def import_scores_spec(workspace: Workspace, run_id: int, path: str) -> ImportScoresSpec:
    """The directory must hold shards (*.parquet), the run must exist and be trained (it has a
    classifier) or applied, and no active job may be using it."""
    directory = os.path.abspath(os.path.expanduser(path))
    score_shards(directory)
    with closing(workspace.connect(readonly=True)) as conn:
        run = store_runs.get_run(conn, run_id)
        require_state(run, "trained", "applied", action="import scores into it")
        refuse_if_in_use(conn, "run", run_id, str(run_id))
    return ImportScoresSpec(run_id=run_id, path=directory)


@dataclass(frozen=True)
class ScaleThreshold(Record):
    """The exact threshold over sharded scores: what keeping `keep` keeps, how ties were
    broken, and what the passes read."""

    kept_docs: int
    kept_tokens: int
    total_docs: int
    total_tokens: int
    keep: float  # fraction in (0, 1]
    by: str  # a KEEP_BY unit
    last_tie: int  # tie key of the last kept doc (its doc id, or source rank << 32 | row)
    threshold: float  # p(positive) of the last kept doc
    kept_token_share: float
    shards: int  # shards read
    docs: int  # docs in them
    cut_bin: int | None  # the histogram bin the cut fell in, and its docs (None: not gathered)
    bin_docs: int | None
    run_id: int | None  # the run whose doc ids broke ties (None: input order)
    tie: str  # how ties were broken, in words

    def to_json(self) -> dict[str, Any]:
        """The fields; `cut_bin`, `bin_docs` and `run_id` only where known."""
        out = super().to_json()
        for key in ("cut_bin", "bin_docs", "run_id"):
            if out[key] is None:
                del out[key]
        return out


def _threshold(
    th: dict[str, Any], info: dict[str, Any], run_id: int | None, tie: str
) -> ScaleThreshold:
    return ScaleThreshold(
        **th,
        **{"cut_bin": None, "bin_docs": None, **info},
        run_id=run_id,
        tie=tie,
    )


def scale_threshold(
    scores_dir: str,
    keep: float,
    by: str = "tokens",
    *,
    workspace: Workspace | None = None,
    run_id: int | None = None,
    engine: str = "local",
    address: str = "local",
    num_cpus: int | None = None,
) -> ScaleThreshold:
    """The threshold, kept docs and kept tokens at `keep` (a fraction) of the shards in
    `scores_dir`; with `run_id` (and its workspace) ties go by the corpus's doc ids."""
    paths = score_shards(os.path.abspath(os.path.expanduser(scores_dir)))

    def threshold(tie_of: TieOf) -> tuple[Threshold, dict[str, Any]]:
        return shard_threshold(
            paths, keep, by, tie_of=tie_of, engine=engine, address=address, num_cpus=num_cpus
        )

    if run_id is None or workspace is None:
        th, info = threshold(input_order_tie)
        return _threshold(th.as_dict(), info, None, "input order (shard source, row)")
    with closing(workspace.connect(readonly=True)) as conn:
        run = store_runs.get_run(conn, run_id)

        def doc_id_tie(got: dict[str, np.ndarray]) -> np.ndarray:
            doc_ids, _ = match_ext_ids(conn, run["corpus_id"], cast("Sequence[str]", got["id"]))
            unknown = np.flatnonzero(doc_ids < 0)
            if len(unknown):
                i = int(unknown[0])
                raise InputError(
                    f"id {str(got['id'][i])!r} is not a doc of corpus '{run['corpus']}'",
                    file=str(got["shard_path"][i]),
                    field="id",
                    fix="use the --run whose corpus the shards were applied to",
                )
            return doc_ids

        th, info = threshold(doc_id_tie)
    return _threshold(th.as_dict(), info, run_id, "doc id")
