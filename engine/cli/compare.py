"""`betr compare`: proxies scored on the same items, with bootstrap intervals, paired
differences and a verdict per pair (engine.api.compare)."""

from __future__ import annotations

import click

from engine.cli.common import BetrCommand, RegistryChoice, echo, emit_json, obj, print_table


def _methods():
    from engine.api.compare import BOOTSTRAP_METHODS

    return BOOTSTRAP_METHODS


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.4f}"


def _ci(row: dict) -> str:
    if row["ci_low"] is None:
        return "-"
    return f"{_fmt(row['ci_low'])} .. {_fmt(row['ci_high'])}"


def _notes(rows: list[dict]) -> list[tuple[str, str]]:
    """The note column, when a row has a note."""
    return [("note", "note")] if any(r.get("note") for r in rows) else []


@click.command("compare", cls=BetrCommand)
@click.option("--proxies", required=True, help="Two or more proxies (names or ids): A,B[,C].")
@click.option(
    "--benchmark",
    required=True,
    help="The benchmark all of them were scored on, or several (a,b): each, and their mean.",
)
@click.option(
    "--metric",
    required=True,
    help="A number of the proxies' rBridge scores (e.g. bpb) or of their multiple-choice items "
    "(e.g. acc_norm); an unknown name lists them.",
)
@click.option("--resamples", type=int, default=9999, show_default=True, help="Bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--confidence", type=float, default=0.95, show_default=True)
@click.option(
    "--method",
    type=RegistryChoice(_methods),
    default="BCa",
    show_default=True,
    help="scipy.stats.bootstrap's interval method.",
)
def compare_cmd(proxies, benchmark, metric, resamples, seed, confidence, method):
    """Proxies on the same items: each one's number with its bootstrap interval, the paired
    difference of every pair with its interval, and a verdict read from the intervals."""
    from engine.api.compare import CompareRequest, compare

    result = compare(
        obj().workspace,
        CompareRequest(
            proxies=proxies.split(","),
            benchmark=benchmark,
            metric=metric,
            n_resamples=resamples,
            seed=seed,
            confidence=confidence,
            method=method,
        ),
    ).to_json()
    if obj().json:
        emit_json(result)
        return
    for each in result.get("benchmarks", []):
        _print(each, "")
        echo()
    _print(result, "the mean over " if result.get("benchmarks") else "")
    for each in result.get("benchmarks", []):
        for note in each["notes"]:
            echo(f"note: {each['benchmark']}: {note}", err=True)
    for note in result["notes"]:
        echo(f"note: {note}", err=True)


def _print(result: dict, over: str) -> None:
    """One comparison: what it compares, the proxies' numbers, the pairs, the verdicts."""
    level = f"{result['confidence'] * 100:g}% CI"
    echo(
        f"{result['metric']} on {over}{result['benchmark']}: {result['n_items']} items, "
        f"{'lower' if result['lower_is_better'] else 'higher'} is better "
        f"({result['source']}; {result['method']} bootstrap, {result['n_resamples']} "
        f"resamples, seed {result['seed']})"
    )
    rows = [{**p, "value": _fmt(p["value"]), "ci": _ci(p)} for p in result["proxies"]]
    print_table(
        rows,
        [("proxy", "proxy"), ("value", result["metric"]), ("ci", level), *_notes(rows)],
        "no proxies",
    )
    rows = [
        {**p, "pair": f"{p['a']} - {p['b']}", "diff": _fmt(p["diff"]), "ci": _ci(p)}
        for p in result["paired"]
    ]
    print_table(
        rows, [("pair", "pair"), ("diff", "difference"), ("ci", level), *_notes(rows)], "no pairs"
    )
    for line in result["verdicts"]:
        echo(line)


COMMANDS = (compare_cmd,)
