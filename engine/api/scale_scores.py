"""`betr import scores DIR --run R`: the checked spec of an import of a Ray apply's Parquet
shards into a run (the job: engine.jobs.kinds.import_scores)."""

from __future__ import annotations

import os
from contextlib import closing

from engine.betr.runs import require_state
from engine.exec.ray_threshold import score_shards
from engine.jobs.specs import ImportScoresSpec
from engine.jobs.table import refuse_if_in_use
from engine.store import runs as store_runs
from engine.workspace import Workspace


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
