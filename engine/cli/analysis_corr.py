"""`betr corr` (the correlation protocols of METHODS 4) and `betr calibration` (ECE, reliability
diagram and temperature scaling, METHODS 6), on engine.api.analysis_corr."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from engine.cli.common import BetrCommand, RegistryChoice, echo, emit_json, obj, print_table
from engine.terminal import json_text

if TYPE_CHECKING:
    from engine.api.analysis_corr import CorrResult


def _protocols():
    from engine.api.analysis_corr import PROTOCOLS

    return PROTOCOLS


def _checkpoints():
    from engine.api.analysis_corr import CHECKPOINTS

    return CHECKPOINTS


def _methods():
    from engine.api.analysis_corr import METHODS

    return METHODS


def _f(x: Any, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _p(x: Any) -> str:
    return "n/a" if x is None else f"{x:.2g}"


@click.command("corr", cls=BetrCommand)
@click.option("--protocol", type=RegistryChoice(_protocols), default="matrix", show_default=True)
@click.option("--metric", default="acc", show_default=True, help="The (accuracy) metric.")
@click.option(
    "--conf-metric",
    default="confidence",
    show_default=True,
    help="The confidence metric (cross-stage r_conf, align, tiers).",
)
@click.option("--stage", default=None, help="Only this stage.")
@click.option("--scale", default=None, help="Only this model scale (size label).")
@click.option("--method", type=RegistryChoice(_methods), default="pearson", show_default=True)
@click.option("--pt", default=None, help="The stage (or scale) playing PT, e.g. PT or 400M.")
@click.option("--sft", default=None, help="The stage (or scale) playing SFT, e.g. SFT or 7B.")
@click.option("--attribute", default=None, help="A run attribute (attribute effects, align).")
@click.option(
    "--checkpoint",
    type=RegistryChoice(_checkpoints),
    default="error",
    show_default=True,
    help="A run with several checkpoints: refuse, or keep each run's last one.",
)
def corr_cmd(protocol, metric, conf_metric, stage, scale, method, pt, sft, attribute, checkpoint):
    """Benchmark correlations over runs: cross-stage r, matrices, coherence, r_align,
    attribute effects, reliability tiers (r, p and n for each; n/a when n < 3 or constant)."""
    from engine.api.analysis_corr import CorrRequest, corr

    req = CorrRequest(
        protocol=protocol,
        metric=metric,
        conf_metric=conf_metric,
        stage=stage,
        scale=scale,
        method=method,
        pt=pt,
        sft=sft,
        attribute=attribute,
        checkpoint=checkpoint,
    )
    res = corr(obj().workspace, req)
    if obj().json:
        emit_json(res.to_json())
        return
    head = f"{protocol}: {metric}, {method}, {res.n_runs} run(s)"
    if res.axis:
        head += f", {res.pt or '(none)'} -> {res.sft or '(none)'} by {res.axis}"
    echo(head)
    PRINTERS.get(protocol, _as_json)(res)
    for note in res.notes:
        echo(f"note: {note}", err=True)


def _as_json(res: CorrResult) -> None:
    """A protocol without a table of its own: its result as JSON."""
    echo(json_text({k: v for k, v in res.to_json().items() if k != "notes"}, indent=2))


def _cross(res: CorrResult) -> None:
    rows = [
        {
            **r,
            **{k: _f(r[k]) for k in ("r_acc", "r_conf")},
            "p_acc": _p(r["p_acc"]),
            "p_conf": _p(r["p_conf"]),
        }
        for r in res.parts["rows"]
    ]
    print_table(
        rows,
        [
            ("scale", "scale"),
            ("category", "category"),
            ("benchmark", "benchmark"),
            ("r_acc", "r_acc"),
            ("p_acc", "p"),
            ("n_acc", "n"),
            ("r_conf", "r_conf"),
            ("p_conf", "p"),
            ("n_conf", "n"),
        ],
        "no benchmark in both stages",
    )
    for m in res.parts["means"]:
        echo(
            f"{m['scale'] or 'all'}: mean r_acc {_f(m['mean_r_acc'])} over {m['n_acc']}, "
            f"mean r_conf {_f(m['mean_r_conf'])} over {m['n_conf']}"
        )


def _short(name: str, width: int = 6) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _matrix(res: CorrResult) -> None:
    for m in res.parts["matrices"]:
        where = " ".join(x for x in (m.get("stage"), m.get("scale")) if x)
        echo(f"\n{m['kind']} {where} ({len(m['rows'])} x {len(m['cols'])}, r; . = n/a)")
        width = max((len(r) for r in m["rows"]), default=4)
        echo(" " * (width + 1) + " ".join(f"{_short(c):>6}" for c in m["cols"]))
        for name, row in zip(m["rows"], m["r"], strict=True):
            cells = " ".join(f"{'.':>6}" if v is None else f"{v:6.2f}" for v in row)
            echo(f"{name:<{width}} {cells}")
        ns = {n for row in m["n"] for n in row}
        echo(f"n per cell: {min(ns)}..{max(ns)}" if ns else "")
    for p in res.parts["persistence"]:
        echo(f"structural persistence {p['scale']}: r {_f(p['r'])} p {_p(p['p'])} n {p['n']}")


def _coherence(res: CorrResult) -> None:
    rows = [{**r, "mean_r": _f(r["mean_r"])} for r in res.parts["rows"]]
    print_table(
        rows,
        [
            ("scale", "scale"),
            ("protocol", "protocol"),
            ("stage", "stage"),
            ("category", "category"),
            ("mean_r", "mean r"),
            ("n_pairs", "pairs"),
            ("n_na", "n/a"),
        ],
        "no category with two benchmarks (betr results categories)",
    )
    if res.parts["uncategorised"]:
        echo(f"uncategorised: {', '.join(res.parts['uncategorised'])}")


def _align(res: CorrResult) -> None:
    rows = [{**r, "mean_r": _f(r["mean_r"])} for r in res.parts["by_category"]]
    print_table(
        rows,
        [
            ("stage", "stage"),
            ("scale", "scale"),
            ("category", "category"),
            ("mean_r", "mean r_align"),
            ("n_runs", "runs"),
            ("n_na", "n/a"),
        ],
        "no run with accuracy and confidence",
    )
    if res.parts["by_attribute"]:
        rows = [{**r, "mean_r": _f(r["mean_r"])} for r in res.parts["by_attribute"]]
        print_table(
            rows,
            [
                ("stage", "stage"),
                ("scale", "scale"),
                ("value", res.parts["attribute"]),
                ("category", "category"),
                ("mean_r", "mean r_align"),
                ("n_runs", "runs"),
            ],
            "",
        )
    if res.parts["persistence"]:
        rows = [{**r, "r": _f(r["r"]), "p": _p(r["p"])} for r in res.parts["persistence"]]
        echo("PT->SFT persistence of r_align:")
        print_table(
            rows,
            [("scale", "scale"), ("category", "category"), ("r", "r"), ("p", "p"), ("n", "n")],
            "",
        )


def _attribute(res: CorrResult) -> None:
    rows = [{**r, "r": _f(r["r"]), "p": _p(r["p"])} for r in res.parts["rows"]]
    print_table(
        rows,
        [
            ("stage", "stage"),
            ("scale", "scale"),
            ("kind", "kind"),
            ("target", "benchmark"),
            ("category", "category"),
            ("r", "r"),
            ("p", "p"),
            ("n", "n"),
            ("dropped", "dropped"),
        ],
        "no results",
    )


def _tiers(res: CorrResult) -> None:
    rows = [
        {
            **r,
            "r_acc": " ".join(_f(x) for x in r["r_acc"]),
            "r_conf": " ".join(_f(x) for x in r["r_conf"]),
        }
        for r in res.parts["rows"]
    ]
    scales = " / ".join(s or "all" for s in res.scales)
    print_table(
        rows,
        [
            ("category", "category"),
            ("benchmark", "benchmark"),
            ("tier", "tier"),
            ("r_acc", f"r_acc ({scales})"),
            ("r_conf", f"r_conf ({scales})"),
        ],
        "no benchmark in both stages",
    )


PRINTERS = {
    "cross-stage": _cross,
    "matrix": _matrix,
    "coherence": _coherence,
    "align": _align,
    "attribute": _attribute,
    "tiers": _tiers,
}


@click.command("calibration", cls=BetrCommand)
@click.option("--run", "run_name", required=True, help="The run (a proxy's dataset or name).")
@click.option("--benchmark", required=True)
@click.option("--stage", default=None)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the half split (drawn over the items in natural id order).",
)
def calibration_cmd(run_name, benchmark, stage, seed):
    """ECE (15 bins), reliability diagram, and temperature scaling fitted on a seeded half
    (ECE before and after on the other half)."""
    from engine.api.analysis_corr import calibration

    res = calibration(obj().workspace, run_name, benchmark, stage=stage, seed=seed)
    if obj().json:
        emit_json(res.to_json())
        return
    bound = res.temperature_at_bound
    echo(
        f"{run_name} on {benchmark}: {res.n_items} items (fit {res.n_fit}, "
        f"evaluate {res.n_eval}), T = {_f(res.temperature, 3)}"
        + (
            f" AT THE {bound.upper()} BOUND of [{res.bounds[0]:g}, {res.bounds[1]:g}]"
            if bound
            else ""
        )
    )
    echo(f"halves: {res.split}")
    echo(
        f"ECE {_f(res.ece, 4)} -> {_f(res.ece_scaled, 4)} after scaling "
        f"(all items at T = 1: {_f(res.ece_all, 4)})"
    )
    scaled = {b.bin: b for b in res.bins_scaled}
    rows = [
        {
            "bin": f"{b.lo:.2f}-{b.hi:.2f}",
            "n": b.n,
            "acc": _f(b.acc, 3),
            "conf": _f(b.conf, 3),
            "n_s": scaled[b.bin].n,
            "acc_s": _f(scaled[b.bin].acc, 3),
            "conf_s": _f(scaled[b.bin].conf, 3),
        }
        for b in res.bins
        if b.n or (b.bin in scaled and scaled[b.bin].n)
    ]
    print_table(
        rows,
        [
            ("bin", "confidence"),
            ("n", "n"),
            ("acc", "acc"),
            ("conf", "conf"),
            ("n_s", "n (T)"),
            ("acc_s", "acc (T)"),
            ("conf_s", "conf (T)"),
        ],
        "no items in the evaluation half",
    )
    for note in res.notes:
        echo(f"note: {note}", err=True)


COMMANDS = (corr_cmd, calibration_cmd)
