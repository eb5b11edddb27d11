"""One correlation protocol from the long results rows to a JSON-ready dict: frame and pivot
(pivots), pick the PT/SFT pairing, run the protocol (its entry in protocols.PROTOCOLS). Pure:
rows (or columns) and the category map in, a dict out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.analysis.correlations import pivots
from engine.analysis.correlations import protocols as cp
from engine.analysis.correlations.protocols import PROTOCOLS, ProtocolInput
from engine.analysis.correlations.stats import METHODS, check_method
from engine.errors import NotFoundError, UsageError


def needs_conf(protocol: str) -> bool:
    """Whether the protocol (a known one) reads the confidence metric too."""
    return protocol in PROTOCOLS and PROTOCOLS[protocol].needs_conf


def needs_attrs(protocol: str) -> bool:
    """Whether the protocol (a known one) reads the runs' attributes."""
    return protocol in PROTOCOLS and PROTOCOLS[protocol].needs_attrs


def wanted_metrics(protocol: str, metric: str, conf_metric: str) -> list[str]:
    """The metrics whose rows `run` reads for this protocol."""
    return [metric, conf_metric] if needs_conf(protocol) else [metric]


def run(
    rows: pivots.Rows,
    protocol: str = "matrix",
    *,
    metric: str = "acc",
    conf_metric: str = "confidence",
    stage: str | None = None,
    scale: str | None = None,
    method: str = "pearson",
    pt: str | None = None,
    sft: str | None = None,
    attribute: str | None = None,
    checkpoint: str = "error",
    categories: Mapping[str, str] | None = None,
    metrics: Sequence[str] | None = None,
    attrs: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The protocol's result (see engine.api.analysis_corr.corr for the keys).

    rows: long rows (dicts with attrs) or columns ({column: values}, as
    engine.store.eval_columns.eval_result_columns gives them). When the rows were read for
    `wanted_metrics` only, `metrics` names the metrics there are (every one when a message lists
    them: a wanted metric has no rows) and `attrs` gives {run: {attribute: value}} (align and
    attribute protocols)."""
    if protocol not in PROTOCOLS:
        raise UsageError(f"unknown protocol '{protocol}'", fix=f"one of {', '.join(PROTOCOLS)}")
    if method not in METHODS:
        raise UsageError(f"unknown method '{method}'", fix=" or ".join(METHODS))
    check_method(method)
    chosen = PROTOCOLS[protocol]
    if chosen.needs_attribute and not attribute:
        raise UsageError(f"the {protocol} protocol needs --attribute NAME (e.g. code_share)")
    height = len(rows["run"]) if isinstance(rows, Mapping) else len(rows)
    if not height and not metrics:
        raise NotFoundError(
            "no evaluation results in this workspace",
            fix="import some: betr results import PATH --format FORMAT (betr results import --help)",
        )
    df = pivots.frame(rows)
    if checkpoint != "error":  # "last" keeps each key's last checkpoint; pivots.matrices
        df = pivots.dedupe(df, checkpoint)  # raises on the duplicates left in what it reads
    if metrics is None:
        metrics = df["metric"].unique().to_list()
    metrics = sorted(metrics)
    if metric not in metrics or not df.height:
        raise NotFoundError(
            f"no results for metric '{metric}'", fix=f"metrics: {', '.join(metrics)}"
        )
    cats = pivots.category_map(df, categories)
    if not chosen.needs_attrs:
        attrs = {}
    elif attrs is None:
        attrs = {} if isinstance(rows, Mapping) else pivots.run_attrs(rows)
    acc = pivots.matrices(df, metric)
    conf = pivots.matrices(df, conf_metric) if chosen.needs_conf else {}
    keys = list(acc)
    scale_order = pivots.scales(df)
    selected, axis, ctxs = cp.resolve(keys, scale_order, stage=stage, scale=scale, pt=pt, sft=sft)
    notes: list[str] = []
    if chosen.needs_conf and not conf:
        notes.append(
            f"no '{conf_metric}' results: confidence correlations are n/a "
            f"(metrics: {', '.join(metrics)})"
        )
    out: dict[str, Any] = {
        "protocol": protocol,
        "metric": metric,
        "conf_metric": conf_metric if chosen.needs_conf else None,
        "method": method,
        "axis": axis,
        "pt": None if not ctxs else _side(axis, ctxs[0].pt),
        "sft": None if not ctxs else _side(axis, ctxs[0].sft),
        "contexts": [c.label for c in ctxs],
        "stages": [s or None for s in sorted({k[0] for k in selected})],
        "scales": [s for s in scale_order if any(k[1] == s for k in selected)],
        "n_runs": len({r for k in selected for r in acc[k].runs}),
        "notes": notes,
    }
    inputs = ProtocolInput(
        acc, conf, keys, selected, ctxs, cats, method, conf_metric, metrics, attrs, attribute
    )
    out.update(chosen.compute(inputs))
    if out.get("one_sided"):
        names = sorted({s["benchmark"] for s in out["one_sided"]})
        notes.append(
            f"{len(names)} benchmark(s) in one {axis} only, left out of the pairing: "
            + ", ".join(names[:10])
            + (" ..." if len(names) > 10 else "")
        )
    return out


def _side(axis: str | None, key: tuple[str, str]) -> str | None:
    value = key[0] if axis == "stage" else key[1]
    return value or None
