"""Filter-rate trade-offs, run overlap and classifier-vs-BETR agreement (the Threshold screen
and `betr tradeoff | overlap | agreement`): the pure computations of engine.betr.tradeoff over
runs loaded from the workspace, so the screen and the CLI agree to the last digit."""

from __future__ import annotations

from contextlib import closing
from typing import Any

from engine.api.browse import load_run_index, snippets
from engine.betr.select import parse_keep
from engine.betr.tradeoff import (
    MAX_EPOCHS,
    OVER_TARGET_SHARE,
    Budget,
    agreement,
    keep_curve,
    overlap,
    parse_amount,
    prob_histogram,
    threshold_stats,
    tradeoff,
)
from engine.errors import UsageError
from engine.workspace import Workspace

__all__ = [
    "MAX_EPOCHS",
    "OVER_TARGET_SHARE",
    "Budget",
    "agreement",
    "agreement_of_run",
    "budget_from_text",
    "keep_curve",
    "overlap",
    "overlap_of_runs",
    "parse_amount",
    "parse_keep",
    "prob_histogram",
    "threshold_stats",
    "tradeoff",
    "tradeoff_of_run",
]


def open_index(workspace: Workspace, run_id: int):
    with closing(workspace.connect(readonly=True)) as conn:
        return load_run_index(conn, run_id)


def budget_from_text(
    params: str | None = None, tokens: str | None = None, compute: str | None = None
) -> Budget:
    """A budget from what a user typed ("1B", "2e10", "1.2e20"); any may be missing."""
    return Budget.of(
        params=None if params is None else parse_amount(params, "model parameters N"),
        tokens=None if tokens is None else parse_amount(tokens, "training tokens D"),
        compute=None if compute is None else parse_amount(compute, "compute C"),
    )


def tradeoff_of_run(
    workspace: Workspace, run_id: int | None, keep: float | None, by: str, budget: Budget
) -> dict[str, Any]:
    """`betr tradeoff`: the compute law alone without a run, else what `keep` keeps and costs."""
    if run_id is None and keep is not None:
        raise UsageError("--keep needs --run: a keep rate is a cut of a run's pool")
    index = open_index(workspace, run_id) if run_id is not None else None
    return tradeoff(index, keep, by, budget)


def overlap_of_runs(
    workspace: Workspace, run_a: int, run_b: int, keep: float, by: str, show: int
) -> dict[str, Any]:
    """Two runs' kept sets at one keep rate; the first `show` docs of each set difference with
    their ids and snippets, and the size of each."""
    result = overlap(open_index(workspace, run_a), open_index(workspace, run_b), keep, by)
    with closing(workspace.connect(readonly=True)) as conn:
        for side in ("only_a", "only_b"):
            ids = [int(i) for i in result[side]]
            result[f"n_{side}"] = len(ids)
            shown = ids[: max(0, show)]
            found = snippets(conn, shown, 200, read=200)
            result[side] = [
                {"doc_id": i, "ext_id": found[i][0], "snippet": found[i][1]}
                for i in shown
                if i in found
            ]
    return result


def agreement_of_run(
    workspace: Workspace, run_id: int, keep: float, by: str, top: int
) -> dict[str, Any]:
    return agreement(open_index(workspace, run_id), keep, by, top)
