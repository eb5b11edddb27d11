"""One correlation protocol from the long results rows to a JSON-ready result: frame and pivot
(pivots), pick the PT/SFT pairing, run the protocol (its entry in protocols.PROTOCOLS). Pure:
rows (or columns), a CorrRequest and the category map in, a CorrResult out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.analysis.correlations import pivots
from engine.analysis.correlations import protocols as cp
from engine.analysis.correlations.protocols import PROTOCOLS, ProtocolInput
from engine.analysis.correlations.request import CorrRequest, CorrResult
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
    req: CorrRequest = CorrRequest(),
    *,
    categories: Mapping[str, str] | None = None,
    metrics: Sequence[str] | None = None,
    attrs: Mapping[str, Mapping[str, Any]] | None = None,
) -> CorrResult:
    """The protocol's result (see engine.api.analysis_corr.corr for the keys).

    rows: long rows (dicts with attrs) or columns ({column: values}, as
    engine.store.eval_columns.eval_result_columns gives them). When the rows were read for
    `wanted_metrics` only, `metrics` names the metrics there are (every one when a message lists
    them: a wanted metric has no rows) and `attrs` gives {run: {attribute: value}} (align and
    attribute protocols)."""
    protocol, metric, conf_metric, method = req.protocol, req.metric, req.conf_metric, req.method
    if protocol not in PROTOCOLS:
        raise UsageError(f"unknown protocol '{protocol}'", fix=f"one of {', '.join(PROTOCOLS)}")
    if method not in METHODS:
        raise UsageError(f"unknown method '{method}'", fix=" or ".join(METHODS))
    check_method(method)
    chosen = PROTOCOLS[protocol]
    if chosen.needs_attribute and not req.attribute:
        raise UsageError(f"the {protocol} protocol needs --attribute NAME (e.g. code_share)")
    height = len(rows["run"]) if isinstance(rows, Mapping) else len(rows)
    if not height and not metrics:
        raise NotFoundError(
            "no evaluation results in this workspace",
            fix="import some: betr results import PATH --format FORMAT (betr results import --help)",
        )
    df = pivots.frame(rows)
    if req.checkpoint != "error":  # "last" keeps each key's last checkpoint; pivots.matrices
        df = pivots.dedupe(df, req.checkpoint)  # raises on the duplicates left in what it reads
    if metrics is None:
        metrics = pivots.distinct(df["metric"])
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
    selected, axis, ctxs = cp.resolve(
        keys, scale_order, stage=req.stage, scale=req.scale, pt=req.pt, sft=req.sft
    )
    notes: list[str] = []
    if chosen.needs_conf and not conf:
        notes.append(
            f"no '{conf_metric}' results: confidence correlations are n/a "
            f"(metrics: {', '.join(metrics)})"
        )
    inputs = ProtocolInput(
        acc, conf, keys, selected, ctxs, cats, method, conf_metric, metrics, attrs, req.attribute
    )
    parts = chosen.compute(inputs)
    if parts.get("one_sided"):
        names = sorted({s["benchmark"] for s in parts["one_sided"]})
        notes.append(
            f"{len(names)} benchmark(s) in one {axis} only, left out of the pairing: "
            + ", ".join(names[:10])
            + (" ..." if len(names) > 10 else "")
        )
    scales = [s for s in scale_order if any(k[1] == s for k in selected)]
    return CorrResult(
        protocol=protocol,
        metric=metric,
        conf_metric=conf_metric if chosen.needs_conf else None,
        method=method,
        axis=axis,
        pt=None if not ctxs else _side(axis, ctxs[0].pt),
        sft=None if not ctxs else _side(axis, ctxs[0].sft),
        contexts=[c.label for c in ctxs],
        stages=[s or None for s in sorted({k[0] for k in selected})],
        scales=parts.pop("scales", scales),  # the tiers name their own scales
        n_runs=len({r for k in selected for r in acc[k].runs}),
        notes=notes,
        parts=parts,
    )


def _side(axis: str | None, key: tuple[str, str]) -> str | None:
    value = key[0] if axis == "stage" else key[1]
    return value or None
