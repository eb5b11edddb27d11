"""`betr fit` (a proxy metric -> target metric fit with cross-validation) and `betr rank`
(datasets ranked by a proxy score or by a transferred fit, against the target): METHODS 3."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import click

from engine.cli.common import BetrCommand, RegistryChoice, echo, emit_json, obj, print_table

if TYPE_CHECKING:
    from engine.api.analysis_fit import ProxyFit


def _match_keys():
    from engine.api.analysis_fit import MATCH_KEYS

    return MATCH_KEYS


def _directions():
    from engine.api.analysis_fit import DIRECTIONS

    return DIRECTIONS


MATCH = click.option(
    "--match",
    type=RegistryChoice(_match_keys),
    default="tokens",
    show_default=True,
    help="Pair x and y on training tokens or on the checkpoint step.",
)
FUNCTIONS = click.option(
    "--functions",
    default=None,
    metavar="LIST",
    help="Restrict the hypothesis space: linear,quadratic,exponential,logarithmic (default all).",
)


def _f(v, digits: int = 4) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


@click.command("fit", cls=BetrCommand)
@click.option("--benchmark", required=True, help="Benchmark of the proxy metric (x).")
@click.option("--x-run", required=True, help="Run of the small (proxy) model.")
@click.option("--x-metric", required=True, help="Its metric, e.g. acc or rbridge_trace.")
@click.option("--y-run", required=True, help="Run of the large (target) model.")
@click.option("--y-metric", required=True, help="Its metric, e.g. acc.")
@click.option("--y-benchmark", default=None, help="Benchmark of y (default: --benchmark).")
@click.option("--x-size", default=None, help="Model size of x (when the run has several).")
@click.option("--y-size", default=None, help="Model size of y.")
@click.option("--x-stage", default=None, help="Stage of x (PT, SFT, ...).")
@click.option("--y-stage", default=None, help="Stage of y.")
@MATCH
@FUNCTIONS
def fit_cmd(
    benchmark,
    x_run,
    x_metric,
    y_run,
    y_metric,
    y_benchmark,
    x_size,
    y_size,
    x_stage,
    y_stage,
    match,
    functions,
):
    """Fit a large model's metric (y) on a small model's metric (x), matched on tokens or
    step: 5-fold CV choosing per fold the function with the best train R^2 (leave-one-out
    under 5 points), then a final fit on all points."""
    from engine.api.analysis_fit import FitRequest, fit

    req = FitRequest(
        benchmark=benchmark,
        x_run=x_run,
        x_metric=x_metric,
        y_run=y_run,
        y_metric=y_metric,
        match=match,
        functions=functions,
        y_benchmark=y_benchmark,
        x_size=x_size,
        y_size=y_size,
        x_stage=x_stage,
        y_stage=y_stage,
    )
    result = fit(obj().workspace, req)
    if obj().json:
        emit_json(result.to_json())
        return
    print_fit(result)


def print_fit(res: ProxyFit) -> None:
    x, y, r = res.x, res.y, res.fit
    echo(
        f"{y.run} {y.metric} ~ {x.run} {x.metric} on {res.benchmark}: "
        f"{r.n} points matched on {r.match}, {r.cv} CV"
    )
    for note in r.notes:
        echo(f"note: {note}", err=True)
    rows = [{**asdict(f), "train_r2": _f(f.train_r2), "test_mae": _f(f.test_mae)} for f in r.folds]
    print_table(
        rows,
        [
            ("fold", "fold"),
            ("function", "chosen"),
            ("train_r2", "train R^2"),
            ("test_mae", "test MAE"),
            ("n_train", "train"),
            ("n_test", "test"),
        ],
        "no folds",
    )
    final = r.final
    params = ", ".join(f"{k}={_f(v, 6)}" for k, v in final.params.items())
    echo(
        f"mean train R^2 {_f(r.train_r2)}  mean test MAE {_f(r.test_mae)}\n"
        f"final: {final.name} y = {final.formula} ({params}), R^2 {_f(final.r2)}"
    )
    pts = [
        {"key": p.key, "x": _f(p.x), "y": _f(p.y), "prediction": _f(p.prediction)} for p in r.points
    ]
    print_table(
        pts,
        [("key", r.match), ("x", "x"), ("y", "y"), ("prediction", "prediction")],
        "no points",
    )


@click.command("rank", cls=BetrCommand)
@click.option("--benchmark", required=True, help="Benchmark of the proxy score (x).")
@click.option("--x-metric", required=True, help="Proxy metric, e.g. rbridge_trace or acc.")
@click.option("--y-metric", required=True, help="Target metric, e.g. acc.")
@click.option("--x-size", default=None, help="Model size that gives the proxy score.")
@click.option("--y-size", default=None, help="Model size of the target.")
@click.option("--y-benchmark", default=None, help="Benchmark of the target (default: --benchmark).")
@click.option("--x-stage", default=None)
@click.option("--y-stage", default=None)
@MATCH
@click.option(
    "--at", type=int, default=None, help="Tokens (or step) of the proxy score (default: the last)."
)
@click.option(
    "--y-at",
    type=int,
    default=None,
    help="Tokens (or step) of the target (default: --at, else the last).",
)
@click.option(
    "--runs", default=None, metavar="LIST", help="Only these datasets (comma-separated runs)."
)
@click.option(
    "--fit-from",
    default=None,
    metavar="DATASET",
    help="Zero-shot transfer: fit on this dataset's points, predict every dataset's target.",
)
@FUNCTIONS
@click.option(
    "--direction",
    type=RegistryChoice(_directions),
    default="auto",
    show_default=True,
    help="Without --fit-from: does a higher proxy mean a higher target (auto: opposite when "
    "one metric is a loss such as nll or rbridge).",
)
def rank_cmd(
    benchmark,
    x_metric,
    y_metric,
    x_size,
    y_size,
    y_benchmark,
    x_stage,
    y_stage,
    match,
    at,
    y_at,
    runs,
    fit_from,
    functions,
    direction,
):
    """Rank datasets (runs) by a proxy score, or by a fit transferred from one dataset, against
    the target: decision accuracy over dataset pairs and Kendall tau-b."""
    from engine.api.analysis_fit import RankRequest, rank

    req = RankRequest(
        benchmark=benchmark,
        x_metric=x_metric,
        y_metric=y_metric,
        x_size=x_size,
        y_size=y_size,
        x_stage=x_stage,
        y_stage=y_stage,
        y_benchmark=y_benchmark,
        match=match,
        at=at,
        y_at=y_at,
        runs=[r.strip() for r in runs.split(",") if r.strip()] if runs else None,
        fit_from=fit_from,
        functions=functions,
        direction=direction,
    )
    result = rank(obj().workspace, req)
    if obj().json:
        emit_json(result.to_json())
        return
    for note in result.notes:
        echo(f"note: {note}", err=True)
    rows = [
        {**d, **{k: _f(d[k]) for k in ("proxy", "prediction", "target")}}
        for d in (asdict(ds) for ds in result.datasets)
    ]
    print_table(
        rows,
        [
            ("rank_prediction", "#pred"),
            ("dataset", "dataset"),
            ("proxy", "proxy"),
            ("prediction", "prediction"),
            ("target", "target"),
            ("rank_target", "#target"),
        ],
        "no datasets",
    )
    r = result
    echo(
        f"decision accuracy {_f(r.decision_accuracy)} over {r.pairs} pair(s) "
        f"({r.target_ties} tied in the target, excluded; {r.prediction_ties} tied in the "
        f"prediction, counted wrong)\nKendall tau-b {_f(r.kendall_tau)} "
        f"(p {'n/a' if r.p_value is None else format(r.p_value, '.3g')}, n {r.n})"
        + (f"\nMAE of the transferred fit {_f(r.mae)} (n {r.mae_n})" if r.fit else "")
    )


COMMANDS = (fit_cmd, rank_cmd)
