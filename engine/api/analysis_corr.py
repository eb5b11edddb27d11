"""Correlation protocols and calibration (METHODS 4 and 6) on a workspace's evaluation results:
read-only use cases of `betr corr`, `betr calibration` and the Analysis screen's Correlations
and Calibration tabs. polars and scipy are imported inside the functions (the TUI imports this
module at startup).

Every correlation carries r, its p-value and n (None for r and p under the n/a rules: n < 3 or
a constant vector); matrices are {rows, cols, r, p, n} with benchmarks as rows and columns,
correlated over runs.
"""

from __future__ import annotations

from contextlib import closing
from typing import Any

from engine.analysis.correlations import CHECKPOINTS as CHECKPOINTS  # for the faces
from engine.analysis.correlations import METHODS as METHODS
from engine.analysis.correlations import PROTOCOLS as PROTOCOLS
from engine.errors import InputError, NotFoundError, UsageError
from engine.names import canonical, spellings, suggest
from engine.store import eval_columns, eval_summary, evals
from engine.workspace import Workspace


def corr(
    workspace: Workspace,
    protocol: str = "matrix",
    *,
    metric: str = "acc",
    conf_metric: str = "confidence",
    stage: str | None = None,
    scale: str | None = None,
    method: str = "pearson",
    pt_stage: str | None = None,
    sft_stage: str | None = None,
    attribute: str | None = None,
    checkpoint: str = "error",
) -> dict[str, Any]:
    """One correlation protocol over the workspace's results.

    protocol: cross-stage (rows: scale, benchmark, category, r_acc, p_acc, n_acc, r_conf,
    p_conf, n_conf; means per scale), matrix (matrices: PT-PT, SFT-SFT, PT->SFT per scale, or
    one within-stage matrix per (stage, scale) when nothing pairs; persistence), coherence
    (rows: scale, protocol PT|SFT|cross-stage|within, category, mean_r, n_pairs, n_na, pairs),
    align (rows per run and category, by_category, by_attribute, persistence), attribute (rows:
    kind benchmark|category, target, r, p, n), tiers (rows: benchmark, tier, r_acc, r_conf per
    scale). pt_stage / sft_stage name two stages or two scales; checkpoint="last" keeps each
    run's last checkpoint when a run has several."""
    from engine.analysis.correlations.pivots import merge_attrs
    from engine.analysis.correlations.run import needs_attrs, run, wanted_metrics
    from engine.api.results import format_names

    wanted = wanted_metrics(protocol, metric, conf_metric)
    attrs = None
    with closing(workspace.connect(readonly=True)) as conn:
        # only the rows the protocol reads, as columns; run attributes only when it needs them
        cols = eval_columns.eval_result_columns(conn, metric=wanted)
        # one benchmark spelled two ways (arc_easy, arc-easy) is one row of a matrix
        shown = canonical(cols["benchmark"])
        if any(k != v for k, v in shown.items()):
            cols["benchmark"] = [shown[b] for b in cols["benchmark"]]
        metrics = set(cols["metric"])
        if not metrics.issuperset(wanted):  # a message will list the workspace's metrics
            metrics = set(eval_columns.eval_metrics(conn))
        if not cols["run"] and not metrics:
            raise NotFoundError(
                "no evaluation results in this workspace",
                fix=f"import some: betr results import PATH --format {format_names()}",
            )
        if needs_attrs(protocol):
            attrs = merge_attrs(eval_columns.eval_result_attrs(conn, metric=wanted))
        mapping = evals.categories(conn)
    return run(
        cols,
        protocol,
        metric=metric,
        conf_metric=conf_metric,
        stage=stage,
        scale=scale,
        method=method,
        pt=pt_stage,
        sft=sft_stage,
        attribute=attribute,
        checkpoint=checkpoint,
        categories=mapping,
        metrics=sorted(metrics),
        attrs=attrs,
    )


def _checkpoints(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = {
        (r.get("stage"), r.get("size"), r.get("params"), r.get("tokens"), r.get("step"))
        for r in items
    }
    return sorted(keys, key=lambda k: tuple((x is None, x if x is not None else 0) for x in k))


def calibration(
    workspace: Workspace,
    run: str,
    benchmark: str,
    *,
    stage: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """ECE (15 bins) and reliability diagram of a run on a benchmark from its per-item
    log-likelihoods (imported lm-eval samples, or a proxy's own multiple-choice items), and
    temperature scaling fitted on a seeded half.

    Keys: run, benchmark, stage, checkpoint {size, params, tokens, step}, n_items, n_fit,
    n_eval, split (how the halves were drawn), fit_items (the ids that fitted T), temperature,
    temperature_at_bound ("lower" / "upper" / None) and bounds, ece and bins (the evaluation
    half at T = 1), ece_scaled and bins_scaled (the evaluation half at T), acc, nll and
    nll_scaled (evaluation half), ece_all and bins_all (every item at T = 1), notes. The halves
    are drawn over the items in the natural order of their ids (numeric ids numerically), so
    they never depend on how the rows were stored. A run evaluated at several checkpoints uses
    the last one (said in notes); a temperature at a bound of the search is said in notes."""
    from engine.analysis.calibration import calibrate, items
    from engine.analysis.item_order import natural_key

    with closing(workspace.connect(readonly=True)) as conn:
        groups = eval_summary.item_groups(conn)
        benches = sorted({g[1] for g in groups if g[0] == run})
        rows = []
        for name in spellings(benchmark, benches):  # every spelling: arc_easy = arc-easy
            rows += evals.eval_items(conn, run=run, benchmark=name, stage=stage)
        if not rows:
            runs = sorted({g[0] for g in groups})
            if not runs:
                fix = (
                    "import lm-eval samples_*.jsonl files (betr results import PATH --format "
                    "lm-eval) or evaluate a proxy (betr proxy eval)"
                )
            elif run not in runs:
                fix = suggest(run, runs, "run with per-item results", plural="runs with them")
            elif not spellings(benchmark, benches):
                fix = suggest(
                    benchmark,
                    benches,
                    f"benchmark of run '{run}'",
                    plural=f"benchmarks of run '{run}'",
                )
            else:
                fix = f"leave out the stage, or pick one that run '{run}' has items at"
            raise NotFoundError(
                f"no per-item results for run '{run}' on benchmark '{benchmark}'"
                + (f" at stage {stage}" if stage else ""),
                fix=fix,
            )
    notes = []
    stages = sorted({r.get("stage") or "" for r in rows})
    if len(stages) > 1:
        raise UsageError(
            f"run '{run}' has items for '{benchmark}' at several stages",
            fix=f"pick one with --stage ({', '.join(s or '(none)' for s in stages)})",
        )
    cps = _checkpoints(rows)
    last = cps[-1]
    if len(cps) > 1:
        notes.append(f"{len(cps)} checkpoints; using the last (tokens {last[3]}, step {last[4]})")
    chosen = sorted(
        (r for r in rows if _checkpoints([r])[0] == last), key=lambda r: natural_key(r["item"])
    )
    seen: dict[str, int] = {}
    for r in chosen:
        seen[str(r["item"])] = seen.get(str(r["item"]), 0) + 1
    dups = sorted(k for k, v in seen.items() if v > 1)
    if dups:
        raise InputError(
            f"{len(dups)} item(s) of run '{run}' on '{benchmark}' appear more than once: "
            + ", ".join(dups[:5]),
            field="item",
            fix="the same samples were imported twice: betr results list, betr results delete ID",
        )
    try:
        it = items([r["logliks"] for r in chosen], [int(r["gold"]) for r in chosen])
    except ValueError as exc:
        raise InputError(str(exc), field="logliks") from None
    res = calibrate(it, seed)
    before, after = res["before"] or {}, res["after"] or {}
    if res["temperature_at_bound"]:
        lo, hi = res["bounds"]
        notes.append(
            f"T = {res['temperature']:.6g} is at the {res['temperature_at_bound']} bound of the "
            f"search [{lo:g}, {hi:g}]: the NLL kept falling towards it, so T did not converge "
            "inside the range"
        )
    return {
        "run": run,
        "benchmark": benchmark,
        "stage": stages[0] or None,
        "checkpoint": dict(zip(("size", "params", "tokens", "step"), last[1:], strict=True)),
        "seed": seed,
        "n_items": res["n_items"],
        "n_fit": res["n_fit"],
        "n_eval": res["n_eval"],
        "split": f"seed {seed}: numpy default_rng({seed}).permutation over the {res['n_items']} "
        "items in natural id order; its first half fits T",
        "fit_items": [str(chosen[i]["item"]) for i in res["fit_idx"]],
        "temperature": res["temperature"],
        "temperature_at_bound": res["temperature_at_bound"],
        "bounds": res["bounds"],
        "ece": before.get("ece"),
        "ece_scaled": after.get("ece"),
        "bins": before.get("bins", []),
        "bins_scaled": after.get("bins", []),
        "acc": before.get("acc"),
        "confidence": before.get("confidence"),
        "confidence_scaled": after.get("confidence"),
        "nll": before.get("nll"),
        "nll_scaled": after.get("nll"),
        "ece_all": res["all"]["ece"],
        "bins_all": res["all"]["bins"],
        "acc_all": res["all"]["acc"],
        "notes": notes
        + ([] if res["temperature"] is not None else ["under 2 items: no temperature scaling"]),
    }
