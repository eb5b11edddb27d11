"""Proxy -> target fits and dataset rankings (METHODS 3) on the imported results: read the long
table through engine.store (read-only), reshape it with polars (engine.analysis.frames), and
compute with engine.analysis.fits / ranking. Requests and results are dataclasses (FitRequest ->
ProxyFit, RankRequest -> Ranking); numbers in them are JSON-ready (NaN -> None) and `to_json`
gives the shapes of `betr fit --json` and `betr rank --json`.

polars, scipy and sklearn are imported inside the functions: the TUI imports this module at
startup.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, cast

from engine.analysis.pairing import MATCH_KEYS as MATCH_KEYS  # the registry, for the faces
from engine.errors import NotFoundError, UsageError
from engine.names import same_name, spellings, suggest
from engine.store import eval_summary
from engine.workspace import Workspace

if TYPE_CHECKING:
    import polars as pl

    from engine.analysis.fits import FitResult
    from engine.analysis.frames import Matched, Side

DIRECTIONS = ("auto", "same", "opposite")
# metric names that read as "lower is better" (a loss, an NLL, a perplexity, an rBridge score)
LOSS_PREFIXES = ("nll", "bpb", "bits_per_byte", "loss", "perplexity", "ppl", "rbridge")
LOSS_SUFFIXES = ("perplexity", "_loss", "nll", "bpb")


def is_loss(metric: str) -> bool:
    m = metric.lower()
    return m.startswith(LOSS_PREFIXES) or m.endswith(LOSS_SUFFIXES)


def num(v: Any) -> float | None:
    """A float for JSON: NaN/inf -> None."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def preload() -> None:
    """Import what a fit uses (polars, scipy: about a second on a loaded machine) ahead of
    the first fit; the Analysis screen calls it in a thread while it reads the overview."""
    import engine.analysis.fits
    import engine.analysis.frames  # noqa: F401


def parse_functions(spec: str | Sequence[str] | None) -> list[str] | None:
    if spec is None:
        return None
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    return [p.strip() for p in parts if p.strip()] or None


# -- requests and results ---------------------------------------------------------------------
@dataclass(frozen=True)
class FitRequest:
    """Fit y (y_metric of run y_run, the target) on x (x_metric of x_run, the proxy) on
    `benchmark` (y on y_benchmark when given), matched on tokens or step; sizes and stages pick
    one series of a run that has several; functions: the hypothesis space (None: all)."""

    benchmark: str
    x_run: str
    x_metric: str
    y_run: str
    y_metric: str
    match: str = "tokens"
    functions: str | Sequence[str] | None = None
    y_benchmark: str | None = None
    x_size: str | None = None
    y_size: str | None = None
    x_stage: str | None = None
    y_stage: str | None = None


@dataclass(frozen=True)
class RankRequest:
    """Rank the datasets (runs) by a proxy score (x_metric at x_size) against the target
    (y_metric at y_size), each at tokens/step `at` (`y_at`) or the run's last one; `runs`: only
    these datasets; `fit_from`: predict with a fit on that dataset's points (zero-shot
    transfer); `direction`: auto, same or opposite (without fit_from)."""

    benchmark: str
    x_metric: str
    y_metric: str
    x_size: str | None = None
    y_size: str | None = None
    x_stage: str | None = None
    y_stage: str | None = None
    y_benchmark: str | None = None
    match: str = "tokens"
    at: int | None = None
    y_at: int | None = None
    runs: Sequence[str] | None = None
    fit_from: str | None = None
    functions: str | Sequence[str] | None = None
    direction: str = "auto"


@dataclass(frozen=True)
class FitSide:
    """One side of a fit or ranking as asked (run None: every dataset)."""

    benchmark: str
    run: str | None
    metric: str
    size: str | None
    stage: str | None


@dataclass(frozen=True)
class CvFold:
    """One CV fold (numbered from 1): the function it chose (None: none could be fitted), its
    train R^2 and test MAE, the sizes of its halves, every candidate's train R^2."""

    fold: int
    function: str | None
    train_r2: float | None
    test_mae: float | None
    n_train: int
    n_test: int
    candidates: dict[str, float | None]


@dataclass(frozen=True)
class FittedFunction:
    """The final fit on every point: the function, its parameters, R^2 and formula."""

    name: str
    params: dict[str, float | None]
    r2: float | None
    formula: str


@dataclass(frozen=True)
class FitPoint:
    """A matched point (key: its tokens or step) and the final fit's prediction there."""

    x: float | None
    y: float | None
    key: int
    prediction: float | None


@dataclass(frozen=True)
class Unmatched:
    """Keys with an x but no y, and with a y but no x."""

    x_only: int
    y_only: int


@dataclass(frozen=True)
class CrossValidation:
    """A cross-validated fit and how its points were matched: the match key, the number of
    points, the CV scheme, the functions tried and chosen per fold, the means over the folds,
    the folds, the final fit, the points, the rows dropped for a missing value, the unmatched
    keys, notes."""

    match: str
    n: int
    cv: str
    space: list[str]
    functions: list[str | None]
    train_r2: float | None
    test_mae: float | None
    folds: list[CvFold]
    final: FittedFunction
    points: list[FitPoint]
    dropped: int
    unmatched: Unmatched
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProxyFit:
    """`fit`'s answer: the benchmark, the two sides, and the cross-validated fit."""

    benchmark: str
    x: FitSide
    y: FitSide
    fit: CrossValidation

    def to_json(self) -> dict[str, Any]:
        """The shape of `betr fit --json`: benchmark, x, y, then the fit's keys."""
        return {
            "benchmark": self.benchmark,
            "x": asdict(self.x),
            "y": asdict(self.y),
            **self.fit.to_json(),
        }


@dataclass(frozen=True)
class TransferFit:
    """The fit a ranking transfers zero-shot: fitted on `dataset`'s points."""

    dataset: str
    fit: CrossValidation

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset, **self.fit.to_json()}


@dataclass(frozen=True)
class RankedDataset:
    """A dataset's proxy score (at x_key), prediction, target (at y_key) and both ranks."""

    dataset: str
    proxy: float | None
    x_key: int | None
    prediction: float | None
    target: float | None
    y_key: int | None
    rank_prediction: int
    rank_target: int | None


@dataclass(frozen=True)
class Ranking:
    """`rank`'s answer: decision accuracy over dataset pairs (target ties excluded, prediction
    ties counted wrong), Kendall tau-b and its p-value over the n datasets with a target, the
    MAE of a transferred fit against the other datasets' targets (mae_n of them), the fit
    (None without fit_from), the datasets by predicted rank, notes."""

    benchmark: str
    x: FitSide
    y: FitSide
    match: str
    at: int | None
    decision_accuracy: float | None
    kendall_tau: float | None
    p_value: float | None
    n: int
    pairs: int
    correct: int
    target_ties: int
    prediction_ties: int
    mae: float | None
    mae_n: int
    fit: TransferFit | None
    datasets: list[RankedDataset]
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        """The shape of `betr rank --json`."""
        out = asdict(self)
        out["fit"] = None if self.fit is None else self.fit.to_json()
        return out


@dataclass(frozen=True)
class CurvePoint:
    """A point of a fitted curve (y None where the function has no value)."""

    x: float
    y: float | None


# -- reading and checking names -----------------------------------------------------------------
def _rows(conn: sqlite3.Connection, benchmark: str) -> list[dict[str, Any]]:
    """The rows of a benchmark under every spelling of its name (`arc_easy` from lm-eval and
    an imported `arc-easy` are one benchmark), each carrying the name asked for."""
    known = eval_summary.benchmark_names(conn)
    names = spellings(benchmark, known)
    if not names:
        raise NotFoundError(
            f"no results for benchmark '{benchmark}'",
            fix=(
                suggest(benchmark, known, "benchmark", listing="betr results list")
                if known
                else "import results first: betr results import PATH --format F"
            ),
        )
    rows = []
    for name in names:
        rows += eval_summary.frame_rows(conn, name)
    for r in rows:
        r["benchmark"] = benchmark
    return rows


def _y_benchmark(benchmark: str, y_benchmark: str | None) -> str:
    """y's benchmark: another one only when it is not a spelling of x's."""
    return y_benchmark if y_benchmark and not same_name(y_benchmark, benchmark) else benchmark


def _one_of(what: str, value: str, known: list[str], where: str) -> None:
    if value not in known:
        raise NotFoundError(f"unknown {what} '{value}' {where}", fix=suggest(value, known, what))


def _check_side(frame: pl.DataFrame, side: Side, role: str) -> None:
    """Every name of a side exists (run, size, stage, metric), else the known ones listed."""
    from engine.analysis.frames import known

    where = f"on benchmark '{side.benchmark}'"
    if side.run is not None:
        _one_of(f"{role} run", side.run, known(frame, "run"), where)
        where += f" for run '{side.run}'"
    for col in ("size", "stage"):
        value = getattr(side, col)
        if value is not None:
            _one_of(f"{role} {col}", value, known(frame, col, run=side.run), where)
            where += f" {col} {value}"
    metrics = known(frame, "metric", run=side.run, size=side.size, stage=side.stage)
    _one_of(f"{role} metric", side.metric, metrics, where)


def _load(ws: Workspace, x: Side, y: Side) -> tuple[pl.DataFrame, pl.DataFrame]:
    from engine.analysis.frames import results_frame

    with closing(ws.connect(readonly=True)) as conn:
        fx = results_frame(_rows(conn, x.benchmark))
        fy = fx if y.benchmark == x.benchmark else results_frame(_rows(conn, y.benchmark))
    _check_side(fx, x, "x")
    _check_side(fy, y, "y")
    return fx, fy


def _check_match(match: str) -> None:
    if match not in MATCH_KEYS:
        raise UsageError(f"unknown --match '{match}'", fix=f"match on {' or '.join(MATCH_KEYS)}")


def _fit_side(side: Side) -> FitSide:
    return FitSide(side.benchmark, side.run, side.metric, side.size, side.stage)


# -- fit ----------------------------------------------------------------------------------------
def one_frame(fx: pl.DataFrame, fy: pl.DataFrame) -> pl.DataFrame:
    """The x and y benchmarks' rows in one frame."""
    import polars as pl

    return fx if fx is fy else pl.concat([fx, fy]).unique(subset=["id"], keep="first")


def fit_points(fx: pl.DataFrame, fy: pl.DataFrame, x: Side, y: Side, match: str) -> Matched:
    """Matched points, at least 3 of them (else an error saying what did not match)."""
    from engine.analysis.fits import MIN_POINTS
    from engine.analysis.frames import matched_points

    m = matched_points(one_frame(fx, fy), x, y, match)
    if len(m.x) < MIN_POINTS:
        raise UsageError(
            f"{len(m.x)} matched point(s) between {x.label()} and {y.label()} on {match}: "
            f"a fit needs at least {MIN_POINTS} ({m.x_only} {match} value(s) with x only, "
            f"{m.y_only} with y only, {m.dropped_missing} row(s) missing a value)",
            fix="match on the other key (--match tokens|step), or import more checkpoints",
        )
    return m


def fit_dict(res: FitResult, matched: Matched, *, match: str) -> CrossValidation:
    """A FitResult (and how its points were matched) as the API's CrossValidation."""
    return CrossValidation(
        match=match,
        n=res.n,
        cv=res.cv,
        space=list(res.space),
        functions=res.functions,
        train_r2=num(res.train_r2),
        test_mae=num(res.test_mae),
        folds=[
            CvFold(
                fold=f.index + 1,
                function=f.function,
                train_r2=num(f.train_r2),
                test_mae=num(f.test_mae),
                n_train=len(f.train),
                n_test=len(f.test),
                candidates={k: num(v) for k, v in f.candidates.items()},
            )
            for f in res.folds
        ],
        final=FittedFunction(
            name=res.final.name,
            params={k: num(v) for k, v in res.final.params.items()},
            r2=num(res.final.r2),
            formula=res.final.formula,
        ),
        points=[
            FitPoint(x=num(xv), y=num(yv), key=int(k), prediction=num(p))
            for xv, yv, k, p in zip(res.x, res.y, res.keys, res.predictions, strict=True)
        ],
        dropped=matched.dropped_missing,
        unmatched=Unmatched(x_only=matched.x_only, y_only=matched.y_only),
        notes=[*matched.notes, *res.notes],
    )


def fit(workspace: Workspace, req: FitRequest) -> ProxyFit:
    """Fit y (metric y_metric of run y_run, the target) on x (x_metric of x_run, the proxy),
    matched on tokens or step: 5-fold CV over the hypothesis space and a final fit."""
    from engine.analysis.fits import check_functions, cross_validate
    from engine.analysis.frames import Side

    _check_match(req.match)
    space = check_functions(parse_functions(req.functions))
    x = Side(req.benchmark, req.x_metric, req.x_run, req.x_size, req.x_stage)
    y_bench = _y_benchmark(req.benchmark, req.y_benchmark)
    y = Side(y_bench, req.y_metric, req.y_run, req.y_size, req.y_stage)
    fx, fy = _load(workspace, x, y)
    matched = fit_points(fx, fy, x, y, req.match)
    if x == y:
        raise UsageError(
            f"x and y are the same numbers ({x.label()}): a series fitted on itself gives "
            "R^2 = 1 whatever the data",
            fix="give x a smaller size (--x-size), another run or another metric than y",
        )
    res = cross_validate(matched.x, matched.y, matched.keys, functions=space)
    return ProxyFit(
        req.benchmark, _fit_side(x), _fit_side(y), fit_dict(res, matched, match=req.match)
    )


# -- rank ---------------------------------------------------------------------------------------
def rank(workspace: Workspace, req: RankRequest) -> Ranking:
    """Rank the datasets (runs) by a proxy score (x_metric at x_size) against the target
    (y_metric at y_size), each at tokens/step `at` or the run's last one. With fit_from=D, the
    prediction is a fit on D's points applied zero-shot to every dataset's proxy score."""
    from engine.analysis.fits import check_functions, cross_validate, predict
    from engine.analysis.frames import Side, known, ranking_table
    from engine.analysis.ranking import rank as rank_rows

    benchmark, x_metric, y_metric, match = req.benchmark, req.x_metric, req.y_metric, req.match
    at, y_at, runs, fit_from, direction = req.at, req.y_at, req.runs, req.fit_from, req.direction
    x_size, y_size, x_stage, y_stage = req.x_size, req.y_size, req.x_stage, req.y_stage
    _check_match(match)
    if direction not in DIRECTIONS:
        raise UsageError(f"unknown direction '{direction}'", fix="use auto, same or opposite")
    space = check_functions(parse_functions(req.functions))
    x = Side(benchmark, x_metric, None, x_size, x_stage)
    y = Side(_y_benchmark(benchmark, req.y_benchmark), y_metric, None, y_size, y_stage)
    fx, fy = _load(workspace, x, y)
    frame = one_frame(fx, fy)
    table = ranking_table(frame, x, y, match, at, y_at)
    notes: list[str] = []
    if x == y and y_at is None:
        notes.append(
            "the proxy and the target are the same numbers: tell them apart with the sizes "
            "(--x-size/--y-size), --y-metric, --y-benchmark or --y-at"
        )
    if runs:
        missing = sorted(set(runs) - set(table["dataset"].to_list()))
        if missing:
            raise NotFoundError(
                f"no proxy score for dataset(s) {', '.join(missing)} ({x.label()})",
                fix=suggest(
                    missing[0], table["dataset"].to_list(), "dataset", plural="datasets with one"
                ),
            )
        table = table.filter(table["dataset"].is_in(list(runs)))
    if table.height == 0:
        where = f" at {match} {at}" if at is not None else ""
        raise NotFoundError(f"no dataset has a proxy score for {x.label()}{where}")
    datasets = table["dataset"].to_list()
    proxy = table["x"].to_list()
    target = table["y"].to_list()
    higher = not is_loss(y_metric)
    fit_info: TransferFit | None = None
    if fit_from is not None:
        _one_of("dataset", fit_from, known(frame, "run"), f"on benchmark '{benchmark}'")
        xs = Side(x.benchmark, x_metric, fit_from, x_size, x_stage)
        ys = Side(y.benchmark, y_metric, fit_from, y_size, y_stage)
        matched = fit_points(fx, fy, xs, ys, match)
        res = cross_validate(matched.x, matched.y, matched.keys, functions=space)
        fit_info = TransferFit(fit_from, fit_dict(res, matched, match=match))
        prediction = [float(v) for v in predict(res.final.name, res.final.params, proxy)]
        bad = [d for d, p in zip(datasets, prediction, strict=True) if not math.isfinite(p)]
        if bad:
            raise UsageError(
                f"the {res.final.name} fit from '{fit_from}' gives no value for {', '.join(bad)}",
                fix="restrict --functions (e.g. linear,quadratic) or leave those datasets out",
            )
        sign = 1
        notes.append(
            f"zero-shot transfer: {res.final.name} fit on '{fit_from}' "
            f"({res.n} points, {res.cv}) applied to every dataset's proxy score"
        )
        # MAE against actuals is reported over the other datasets (D itself is in-sample)
        others = [t if d != fit_from else None for d, t in zip(datasets, target, strict=True)]
        mae_rank = rank_rows(datasets, prediction, others, higher_is_better=higher)
    else:
        prediction = proxy
        opposite = direction == "opposite" or (
            direction == "auto" and is_loss(x_metric) != is_loss(y_metric)
        )
        sign = -1 if opposite else 1
        notes.append(
            f"ranked by the proxy score itself ({'lower' if (sign < 0) == higher else 'higher'} "
            "proxy = better)"
        )
        mae_rank = None
    result = rank_rows(datasets, prediction, target, sign=sign, higher_is_better=higher)
    n_missing = sum(t is None for t in target)
    if n_missing:
        notes.append(f"{n_missing} dataset(s) without a target value: ranked, not scored")
    keys = dict(
        zip(
            datasets,
            zip(table["x_key"].to_list(), table["y_key"].to_list(), proxy, strict=True),
            strict=True,
        )
    )
    return Ranking(
        benchmark=benchmark,
        x=_fit_side(x),
        y=_fit_side(y),
        match=match,
        at=at,
        decision_accuracy=num(result.decision.accuracy),
        kendall_tau=num(result.tau.tau),
        p_value=num(result.tau.p_value),
        n=result.n_known,
        pairs=result.decision.pairs,
        correct=result.decision.correct,
        target_ties=result.decision.target_ties,
        prediction_ties=result.decision.prediction_ties,
        mae=num(mae_rank.mae) if mae_rank is not None else None,
        mae_n=mae_rank.n_known if mae_rank is not None else 0,
        fit=fit_info,
        datasets=[
            RankedDataset(
                dataset=r.dataset,
                proxy=num(keys[r.dataset][2]),
                x_key=keys[r.dataset][0],
                prediction=num(r.prediction),
                target=num(r.target),
                y_key=keys[r.dataset][1],
                rank_prediction=r.rank_prediction,
                rank_target=r.rank_target,
            )
            for r in result.rows
        ],
        notes=notes,
    )


def fitted_curve(
    final: FittedFunction, x_min: float, x_max: float, n: int = 100
) -> list[CurvePoint]:
    """The final fit (from `fit`) at n evenly spaced x in [x_min, x_max], for drawing it over
    the points (y None where the function has no value)."""
    import numpy as np

    from engine.analysis.fits import predict

    xs = np.linspace(x_min, x_max, n)
    ys = predict(final.name, cast("dict[str, float]", final.params), xs)
    return [CurvePoint(float(a), num(b)) for a, b in zip(xs, ys, strict=True)]
