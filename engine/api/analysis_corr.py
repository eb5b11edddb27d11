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
from dataclasses import asdict, dataclass
from typing import Any

from engine.analysis.correlations import CHECKPOINTS as CHECKPOINTS  # for the faces
from engine.analysis.correlations import METHODS as METHODS
from engine.analysis.correlations import PROTOCOLS as PROTOCOLS
from engine.analysis.correlations import CorrRequest as CorrRequest
from engine.analysis.correlations import CorrResult as CorrResult
from engine.errors import InputError, NotFoundError, UsageError
from engine.names import canonical, spellings, suggest
from engine.store import eval_columns, eval_summary, evals
from engine.workspace import Workspace


def corr(workspace: Workspace, req: CorrRequest = CorrRequest()) -> CorrResult:
    """One correlation protocol (req.protocol) over the workspace's results.

    The result's parts by protocol: cross-stage (rows: scale, benchmark, category, r_acc, p_acc, n_acc, r_conf,
    p_conf, n_conf; means per scale), matrix (matrices: PT-PT, SFT-SFT, PT->SFT per scale, or
    one within-stage matrix per (stage, scale) when nothing pairs; persistence), coherence
    (rows: scale, protocol PT|SFT|cross-stage|within, category, mean_r, n_pairs, n_na, pairs),
    align (rows per run and category, by_category, by_attribute, persistence), attribute (rows:
    kind benchmark|category, target, r, p, n), tiers (rows: benchmark, tier, r_acc, r_conf per
    scale; the tiers' scales are the result's scales). req.pt / req.sft name two stages or two
    scales; req.checkpoint="last" keeps each run's last checkpoint when a run has several."""
    from engine.analysis.correlations.pivots import merge_attrs
    from engine.analysis.correlations.run import needs_attrs, run, wanted_metrics
    from engine.api.results import format_names

    wanted = wanted_metrics(req.protocol, req.metric, req.conf_metric)
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
        if needs_attrs(req.protocol):
            attrs = merge_attrs(eval_columns.eval_result_attrs(conn, metric=wanted))
        mapping = evals.categories(conn)
    return run(cols, req, categories=mapping, metrics=sorted(metrics), attrs=attrs)


@dataclass(frozen=True)
class CalibrationBin:
    """One of the 15 confidence bins [lo, hi): its items, their accuracy and mean confidence
    (None for an empty bin)."""

    bin: int
    lo: float
    hi: float
    n: int
    acc: float | None
    conf: float | None


@dataclass(frozen=True)
class Checkpoint:
    """The checkpoint a run's items were read at (None: the results do not say)."""

    size: str | None
    params: int | None
    tokens: int | None
    step: int | None


@dataclass(frozen=True)
class CalibrationResult:
    """`calibration`'s answer (see its docstring); `to_json` is the shape of `betr calibration
    --json`."""

    run: str
    benchmark: str
    stage: str | None
    checkpoint: Checkpoint
    seed: int
    n_items: int
    n_fit: int
    n_eval: int
    split: str
    fit_items: list[str]
    temperature: float | None
    temperature_at_bound: str | None  # "lower" / "upper" / None
    bounds: list[float]
    ece: float | None
    ece_scaled: float | None
    bins: list[CalibrationBin]
    bins_scaled: list[CalibrationBin]
    acc: float | None
    confidence: float | None
    confidence_scaled: float | None
    nll: float | None
    nll_scaled: float | None
    ece_all: float | None
    bins_all: list[CalibrationBin]
    acc_all: float | None
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _bins(rows: list[dict[str, Any]]) -> list[CalibrationBin]:
    return [CalibrationBin(**b) for b in rows]


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
) -> CalibrationResult:
    """ECE (15 bins) and reliability diagram of a run on a benchmark from its per-item
    log-likelihoods (imported lm-eval samples, or a proxy's own multiple-choice items), and
    temperature scaling fitted on a seeded half.

    Fields: run, benchmark, stage, checkpoint (size, params, tokens, step), n_items, n_fit,
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
    notes: list[str] = []
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
    return CalibrationResult(
        run=run,
        benchmark=benchmark,
        stage=stages[0] or None,
        checkpoint=Checkpoint(*last[1:]),
        seed=seed,
        n_items=res["n_items"],
        n_fit=res["n_fit"],
        n_eval=res["n_eval"],
        split=f"seed {seed}: numpy default_rng({seed}).permutation over the {res['n_items']} "
        "items in natural id order; its first half fits T",
        fit_items=[str(chosen[i]["item"]) for i in res["fit_idx"]],
        temperature=res["temperature"],
        temperature_at_bound=res["temperature_at_bound"],
        bounds=res["bounds"],
        ece=before.get("ece"),
        ece_scaled=after.get("ece"),
        bins=_bins(before.get("bins", [])),
        bins_scaled=_bins(after.get("bins", [])),
        acc=before.get("acc"),
        confidence=before.get("confidence"),
        confidence_scaled=after.get("confidence"),
        nll=before.get("nll"),
        nll_scaled=after.get("nll"),
        ece_all=res["all"]["ece"],
        bins_all=_bins(res["all"]["bins"]),
        acc_all=res["all"]["acc"],
        notes=notes
        + ([] if res["temperature"] is not None else ["under 2 items: no temperature scaling"]),
    )
