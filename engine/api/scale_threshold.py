"""`betr threshold --scores DIR --keep X%`: the exact keep threshold over a Ray apply's Parquet
shards, without loading them into the workspace (engine.exec.ray_threshold, two passes).

Ties in probability are broken as the local engine breaks them: with `--run R`, by the doc ids
of the run's corpus (the ids in the shards matched to its docs), so the numbers equal
`betr select --run R` once the scores are imported; without, by input order (the shard's
source file, then the row), which is the doc id order of a corpus imported from those files in
that order.
"""

from __future__ import annotations

import os
from contextlib import closing
from typing import Any

import numpy as np

from engine.errors import InputError
from engine.exec.ray_threshold import input_order_tie, score_shards, shard_threshold
from engine.store import runs as store_runs
from engine.store.scale_scores import match_ext_ids
from engine.workspace import Workspace


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
) -> dict[str, Any]:
    """The threshold, kept docs and kept tokens at `keep` (a fraction) of the shards in
    `scores_dir`; with `run_id` (and its workspace) ties go by the corpus's doc ids."""
    paths = score_shards(os.path.abspath(os.path.expanduser(scores_dir)))
    opts = {"engine": engine, "address": address, "num_cpus": num_cpus}
    if run_id is None or workspace is None:
        th, info = shard_threshold(paths, keep, by, tie_of=input_order_tie, **opts)
        return {**th.as_dict(), **info, "tie": "input order (shard source, row)"}
    with closing(workspace.connect(readonly=True)) as conn:
        run = store_runs.get_run(conn, run_id)

        def doc_id_tie(got: dict[str, np.ndarray]) -> np.ndarray:
            doc_ids, _ = match_ext_ids(conn, run["corpus_id"], got["id"])
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

        th, info = shard_threshold(paths, keep, by, tie_of=doc_id_tie, **opts)
    return {**th.as_dict(), **info, "run_id": run_id, "tie": "doc id"}
