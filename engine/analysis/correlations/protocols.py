"""The correlation protocols of METHODS 4 over runs x benchmarks pivots (pivots.Pivot):
cross-stage r_acc / r_conf, PT-PT / SFT-SFT / PT->SFT matrices with structural persistence,
intra-category coherence, accuracy-confidence alignment (r_align), attribute effects and
reliability tiers. Pure; results are JSON-ready dicts (None for n/a).

Pairing: any two stages or any two scales play PT and SFT. `resolve` picks them: --pt/--sft
name stages or scales; else two stages pair at each scale; else one stage with two scales pairs
the smaller scale (PT) with the larger (SFT). Runs are matched by name (a run missing on one side
is a missing value: dropped and counted); paired protocols use the benchmarks both sides have,
the others are listed under `one_sided`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.analysis.correlations.stats import (
    Corr,
    block,
    coherence,
    corr,
    diagonal,
    mean_or_none,
    structural_persistence,
    tier,
)
from engine.errors import InputError, NotFoundError, UsageError

if TYPE_CHECKING:
    from engine.analysis.correlations.pivots import Pivot

Key = tuple[str, str]  # (stage, scale); "" = none


@dataclass(frozen=True)
class Context:
    """One PT/SFT pairing: at one scale (stage pairing) or at one stage (scale pairing)."""

    label: str
    pt: Key
    sft: Key


def _show(label: str) -> str:
    return label or "(none)"


def _is_pt(stage: str) -> bool:
    s = stage.lower()
    return s.startswith("pt") or s.startswith("pre") or s == "base"


def resolve(
    keys: Sequence[Key],
    scale_order: Sequence[str],
    *,
    stage: str | None = None,
    scale: str | None = None,
    pt: str | None = None,
    sft: str | None = None,
) -> tuple[list[Key], str | None, list[Context]]:
    """(the (stage, scale) keys selected, the pairing axis "stage"/"scale"/None, contexts)."""
    stages = sorted({k[0] for k in keys})
    scales = [s for s in scale_order if any(k[1] == s for k in keys)]
    for given, pool, what in ((stage, stages, "stage"), (scale, scales, "scale")):
        if given is not None and given not in pool:
            raise UsageError(
                f"no results at {what} '{given}'",
                fix=f"{what}s with results: {', '.join(map(_show, pool)) or 'none'}",
            )
    sel_stages = [stage] if stage is not None else stages
    sel_scales = [scale] if scale is not None else scales
    selected = [(st, sc) for sc in sel_scales for st in sel_stages if (st, sc) in keys]
    if (pt is None) != (sft is None):
        raise UsageError("give both --pt and --sft (or neither)")
    if pt is not None:
        assert sft is not None
        kinds = []
        for name in (pt, sft):
            kind = [k for k, pool in (("stage", stages), ("scale", scales)) if name in pool]
            if len(kind) != 1:
                raise UsageError(
                    f"'{name}' is {'both a stage and a scale' if kind else 'no stage or scale'}",
                    fix=f"stages: {', '.join(map(_show, stages))}; scales: "
                    f"{', '.join(map(_show, scales))}",
                )
            kinds.append(kind[0])
        if kinds[0] != kinds[1]:
            raise UsageError(f"--pt {pt} is a {kinds[0]} but --sft {sft} a {kinds[1]}")
        if pt == sft:
            raise UsageError("--pt and --sft name the same stage or scale")
        axis = kinds[0]
    elif len(sel_stages) == 2:
        axis = "stage"
        a, b = sel_stages
        pt, sft = (b, a) if _is_pt(b) and not _is_pt(a) else (a, b)
    elif len(sel_stages) == 1 and len(sel_scales) == 2:
        axis, (pt, sft) = "scale", sel_scales
    else:
        return selected, None, []
    if axis == "stage":
        ctxs = [Context(sc, (pt, sc), (sft, sc)) for sc in sel_scales]
    else:
        if len(sel_stages) != 1:
            raise UsageError(
                "pairing two scales needs one stage",
                fix=f"add --stage ({', '.join(map(_show, sel_stages))})",
            )
        st = sel_stages[0]
        label = f"{pt}->{sft}" + (f" ({st})" if st else "")
        ctxs = [Context(label, (st, pt), (st, sft))]
    ctxs = [c for c in ctxs if c.pt in keys and c.sft in keys]
    if not ctxs:
        raise UsageError(f"no scale has results for both {_show(pt)} and {_show(sft)}")
    return selected, axis, ctxs


def side_names(ctx: Context) -> tuple[str, str]:
    """What a context pairs: its two stages (PT, SFT), or its two scales (150M, 1B)."""
    if ctx.pt[0] != ctx.sft[0]:
        return _show(ctx.pt[0]), _show(ctx.sft[0])
    return _show(ctx.pt[1]), _show(ctx.sft[1])


def need_pairing(ctxs: Sequence[Context], keys: Sequence[Key], protocol: str) -> None:
    if not ctxs:
        stages = sorted({_show(k[0]) for k in keys})
        scales = sorted({_show(k[1]) for k in keys})
        raise UsageError(
            f"the {protocol} protocol needs two stages or two scales to pair",
            fix=f"give --pt and --sft (stages: {', '.join(stages)}; scales: {', '.join(scales)})",
        )


def one_sided(pivots: Mapping[Any, Pivot], a: Any, b: Any) -> list[dict[str, Any]]:
    """Benchmarks present in only one of two pivots: [{benchmark, present, missing}]."""
    pa, pb = pivots.get(a), pivots.get(b)
    ba = set(pa.benchmarks) if pa else set()
    bb = set(pb.benchmarks) if pb else set()
    out = [{"benchmark": x, "present": _label(a), "missing": _label(b)} for x in sorted(ba - bb)]
    out += [{"benchmark": x, "present": _label(b), "missing": _label(a)} for x in sorted(bb - ba)]
    return out


def _label(key: Any) -> str:
    if isinstance(key, tuple):
        return " ".join(k for k in key if k) or "(one stage)"
    return str(key)


def ordered(benchmarks: Sequence[str], cats: Mapping[str, str | None]) -> list[str]:
    """Benchmarks grouped by category (uncategorised last), then by name."""
    return sorted(benchmarks, key=lambda b: (cats.get(b) is None, cats.get(b) or "", b))


def paired(
    data: Mapping[Key, Pivot], ctx: Context, cats: Mapping[str, str | None]
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """(runs, common benchmarks, PT values, SFT values) of one context, runs x benchmarks."""
    a, b = data[ctx.pt], data[ctx.sft]
    runs = sorted(set(a.runs) | set(b.runs))
    bms = ordered(sorted(set(a.benchmarks) & set(b.benchmarks)), cats)
    return runs, bms, a.reindex(runs, bms), b.reindex(runs, bms)


def _c(prefix: str, c: Corr | None) -> dict[str, Any]:
    if c is None:
        return {f"r{prefix}": None, f"p{prefix}": None, f"n{prefix}": 0}
    return {f"r{prefix}": c.r, f"p{prefix}": c.p, f"n{prefix}": c.n}


def cross_stage(
    acc: Mapping[Key, Pivot],
    conf: Mapping[Key, Pivot],
    ctxs: Sequence[Context],
    cats: Mapping[str, str | None],
    method: str,
) -> dict[str, Any]:
    """Per context and benchmark r_acc and r_conf (corr over runs of PT vs SFT values), the
    per-context means, and the benchmarks one side lacks."""
    rows, means, sided = [], [], []
    for ctx in ctxs:
        _runs, bms, a, b = paired(acc, ctx, cats)
        r_acc = dict(zip(bms, diagonal(a, b, method), strict=True))
        r_conf: dict[str, Corr] = {}
        if ctx.pt in conf and ctx.sft in conf:
            _cruns, cbms, ca, cb = paired(conf, ctx, cats)
            r_conf = dict(zip(cbms, diagonal(ca, cb, method), strict=True))
        for bm in bms:
            rows.append(
                {
                    "scale": ctx.label,
                    "benchmark": bm,
                    "category": cats.get(bm),
                    **_c("_acc", r_acc[bm]),
                    **_c("_conf", r_conf.get(bm)),
                }
            )
        m_acc, k_acc = mean_or_none([c.r for c in r_acc.values()])
        m_conf, k_conf = mean_or_none([r_conf[bm].r for bm in bms if bm in r_conf])
        means.append(
            {
                "scale": ctx.label,
                "mean_r_acc": m_acc,
                "n_acc": k_acc,
                "mean_r_conf": m_conf,
                "n_conf": k_conf,
            }
        )
        sided += [{"scale": ctx.label, **s} for s in one_sided(acc, ctx.pt, ctx.sft)]
    return {"rows": rows, "means": means, "one_sided": sided}


def _matrix(m, cats, ctx_label: str, **meta) -> dict[str, Any]:
    d = m.as_dict()
    d.update(
        scale=ctx_label,
        row_categories=[cats.get(b) for b in m.rows],
        col_categories=[cats.get(b) for b in m.cols],
        **meta,
    )
    return d


def matrices(
    acc: Mapping[Key, Pivot],
    selected: Sequence[Key],
    ctxs: Sequence[Context],
    cats: Mapping[str, str | None],
    method: str,
) -> dict[str, Any]:
    """Paired: each side with itself and across (PT-PT, SFT-SFT and PT->SFT for two stages;
    150M-150M, 1B-1B and 150M->1B for two scales of one stage: a matrix is named after what
    it pairs, never "SFT" where there is no SFT stage) per context (benchmarks both sides
    have) and the structural persistence; unpaired: one within-stage matrix per (stage,
    scale)."""
    out: list[dict[str, Any]] = []
    persistence, sided = [], []
    for ctx in ctxs:
        _runs, bms, a, b = paired(acc, ctx, cats)
        one, two = side_names(ctx)
        pp = block(a, a, bms, bms, method, kind=f"{one}-{one}")
        ss = block(b, b, bms, bms, method, kind=f"{two}-{two}")
        ps = block(a, b, bms, bms, method, kind=f"{one}->{two}")
        for m, key in ((pp, ctx.pt), (ss, ctx.sft), (ps, None)):
            out.append(_matrix(m, cats, ctx.label, stage=None if key is None else key[0] or None))
        persistence.append({"scale": ctx.label, **structural_persistence(pp, ss).as_dict()})
        sided += [{"scale": ctx.label, **s} for s in one_sided(acc, ctx.pt, ctx.sft)]
    if not ctxs:
        for key in selected:
            pv = acc[key]
            bms = ordered(pv.benchmarks, cats)
            vals = pv.reindex(pv.runs, bms)
            m = block(vals, vals, bms, bms, method, kind="within")
            out.append(_matrix(m, cats, key[1], stage=key[0] or None))
    return {"matrices": out, "persistence": persistence, "one_sided": sided}


def coherences(
    acc: Mapping[Key, Pivot],
    selected: Sequence[Key],
    ctxs: Sequence[Context],
    cats: Mapping[str, str | None],
    method: str,
) -> dict[str, Any]:
    """Intra-category coherence: PT and SFT (i < j) and cross-stage (i != j) per context, or
    within each selected (stage, scale) when nothing pairs."""
    rows = []

    def add(scale: str, protocol: str, stage: str | None, m) -> None:
        for row in coherence(m, cats, cross=protocol == "cross-stage"):
            rows.append({"scale": scale, "protocol": protocol, "stage": stage, **row})

    for ctx in ctxs:
        _runs, bms, a, b = paired(acc, ctx, cats)
        add(ctx.label, "PT", ctx.pt[0] or None, block(a, a, bms, bms, method))
        add(ctx.label, "SFT", ctx.sft[0] or None, block(b, b, bms, bms, method))
        add(ctx.label, "cross-stage", None, block(a, b, bms, bms, method))
    if not ctxs:
        for key in selected:
            pv = acc[key]
            add(
                key[1],
                "within",
                key[0] or None,
                block(pv.values, pv.values, pv.benchmarks, pv.benchmarks, method),
            )
    uncategorised = sorted({b for k in selected for b in acc[k].benchmarks if not cats.get(b)})
    return {"rows": rows, "uncategorised": uncategorised}


ALL = "(all)"


def _align_one(acc: Pivot, conf: Pivot, cats, method) -> dict[str, dict[str, Corr]]:
    """{run: {category: r_align}} for one (stage, scale); ALL = over every benchmark."""
    bms = sorted(set(acc.benchmarks) & set(conf.benchmarks))
    runs = sorted(set(acc.runs) | set(conf.runs))
    a, c = acc.reindex(runs, bms), conf.reindex(runs, bms)
    groups: dict[str, list[int]] = {ALL: list(range(len(bms)))}
    for j, bm in enumerate(bms):
        if cats.get(bm):
            groups.setdefault(cats[bm], []).append(j)  # type: ignore[index]
    return {
        run: {g: corr(a[i, idx], c[i, idx], method) for g, idx in sorted(groups.items())}
        for i, run in enumerate(runs)
    }


def _numeric(attribute: str, value: Any, run: str) -> float:
    if value is None:
        return np.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise InputError(
            f"run attribute '{attribute}' is not numeric for run '{run}': {value!r}",
            field=attribute,
            fix="attribute effects need a number (e.g. a code share 0.25 or 25%); "
            "group by a text attribute with --protocol align --attribute",
        ) from None


def alignment(
    acc: Mapping[Key, Pivot],
    conf: Mapping[Key, Pivot],
    selected: Sequence[Key],
    ctxs: Sequence[Context],
    cats: Mapping[str, str | None],
    attrs: Mapping[str, Mapping[str, Any]],
    attribute: str | None,
    method: str,
) -> dict[str, Any]:
    """r_align per run and category (corr over the category's benchmarks of accuracy vs
    confidence), its mean over runs by category and by a run attribute's value, and its PT->SFT
    persistence (corr over runs of the PT and SFT r_align)."""
    per_key = {k: _align_one(acc[k], conf[k], cats, method) for k in selected if k in conf}
    for ctx in ctxs:
        for k in (ctx.pt, ctx.sft):
            if k not in per_key and k in conf:
                per_key[k] = _align_one(acc[k], conf[k], cats, method)
    rows, by_cat, by_attr = [], [], []
    for (stage, scale), runs in sorted(per_key.items()):
        if (stage, scale) not in selected:
            continue
        groups: dict[tuple[Any, str], list[float | None]] = {}
        cat_vals: dict[str, list[float | None]] = {}
        for run, per_cat in runs.items():
            value = attrs.get(run, {}).get(attribute) if attribute else None
            for cat, c in per_cat.items():
                rows.append(
                    {
                        "stage": stage or None,
                        "scale": scale,
                        "run": run,
                        "category": cat,
                        "r": c.r,
                        "p": c.p,
                        "n": c.n,
                    }
                )
                cat_vals.setdefault(cat, []).append(c.r)
                if attribute:
                    groups.setdefault((value, cat), []).append(c.r)
        for cat, vals in sorted(cat_vals.items()):
            mean, k = mean_or_none(vals)
            by_cat.append(
                {
                    "stage": stage or None,
                    "scale": scale,
                    "category": cat,
                    "mean_r": mean,
                    "n_runs": k,
                    "n_na": len(vals) - k,
                }
            )
        for (value, cat), vals in sorted(groups.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
            mean, k = mean_or_none(vals)
            by_attr.append(
                {
                    "stage": stage or None,
                    "scale": scale,
                    "attribute": attribute,
                    "value": value,
                    "category": cat,
                    "mean_r": mean,
                    "n_runs": k,
                    "n_na": len(vals) - k,
                }
            )
    persistence = []
    for ctx in ctxs:
        if ctx.pt not in per_key or ctx.sft not in per_key:
            continue
        a, b = per_key[ctx.pt], per_key[ctx.sft]
        runs = sorted(set(a) | set(b))
        for cat in sorted({c for r in runs for c in {**a.get(r, {}), **b.get(r, {})}}):
            x = [_r(a.get(r, {}).get(cat)) for r in runs]
            y = [_r(b.get(r, {}).get(cat)) for r in runs]
            persistence.append(
                {"scale": ctx.label, "category": cat, **corr(x, y, method).as_dict()}
            )
    return {
        "rows": rows,
        "by_category": by_cat,
        "by_attribute": by_attr,
        "persistence": persistence,
    }


def _r(c: Corr | None) -> float:
    return np.nan if c is None or c.r is None else c.r


def attribute_effects(
    acc: Mapping[Key, Pivot],
    selected: Sequence[Key],
    cats: Mapping[str, str | None],
    attrs: Mapping[str, Mapping[str, Any]],
    attribute: str,
    method: str,
) -> dict[str, Any]:
    """corr over runs between a numeric run attribute and each benchmark's accuracy, and each
    category's mean accuracy (a run missing one of the category's benchmarks is dropped)."""
    if not any(attribute in a for a in attrs.values()):
        known = sorted({k for a in attrs.values() for k in a})
        raise UsageError(
            f"no run has the attribute '{attribute}'",
            fix=f"run attributes: {', '.join(known)}" if known else "no run has attributes",
        )
    rows = []
    for key in selected:
        pv = acc[key]
        x = np.array([_numeric(attribute, attrs.get(r, {}).get(attribute), r) for r in pv.runs])
        base = {"stage": key[0] or None, "scale": key[1], "attribute": attribute}
        groups: dict[str, list[int]] = {}
        for j, bm in enumerate(pv.benchmarks):
            c = corr(x, pv.values[:, j], method)
            rows.append(
                {**base, "kind": "benchmark", "target": bm, "category": cats.get(bm), **c.as_dict()}
            )
            if cats.get(bm):
                groups.setdefault(cats[bm], []).append(j)  # type: ignore[index]
        for cat, idx in sorted(groups.items()):
            sub = pv.values[:, idx]
            mean = np.where(np.isfinite(sub).all(axis=1), sub.mean(axis=1), np.nan)
            c = corr(x, mean, method)
            rows.append({**base, "kind": "category", "target": cat, "category": cat, **c.as_dict()})
    return {"rows": rows}


def tiers(cross: Mapping[str, Any], cats: Mapping[str, str | None]) -> dict[str, Any]:
    """Reliability tier per benchmark from the cross-stage rows (every context a scale)."""
    scales = list(dict.fromkeys(r["scale"] for r in cross["rows"]))
    by_bm: dict[str, dict[str, dict[str, Any]]] = {}
    for r in cross["rows"]:
        by_bm.setdefault(r["benchmark"], {})[r["scale"]] = r
    rows = []
    for bm in ordered(list(by_bm), cats):
        per = by_bm[bm]
        r_acc = [per.get(s, {}).get("r_acc") for s in scales]
        r_conf = [per.get(s, {}).get("r_conf") for s in scales]
        rows.append(
            {
                "benchmark": bm,
                "category": cats.get(bm),
                "tier": tier(r_acc, r_conf),
                "scales": scales,
                "r_acc": r_acc,
                "r_conf": r_conf,
                "n_acc": [per.get(s, {}).get("n_acc", 0) for s in scales],
                "n_conf": [per.get(s, {}).get("n_conf", 0) for s in scales],
            }
        )
    return {"rows": rows, "scales": scales}


# -- the registry -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProtocolInput:
    """What a protocol computes on: the accuracy (and confidence) pivots by (stage, scale), the
    keys selected and their PT/SFT pairings, the benchmark categories, the runs' attributes."""

    acc: Mapping[Key, Pivot]
    conf: Mapping[Key, Pivot]
    keys: Sequence[Key]
    selected: Sequence[Key]
    ctxs: Sequence[Context]
    cats: Mapping[str, str | None]
    method: str
    conf_metric: str = "confidence"
    metrics: Sequence[str] = ()
    attrs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    attribute: str | None = None


@dataclass(frozen=True)
class Protocol:
    """One correlation protocol: `compute(inputs)` -> the JSON-ready part of its result.

    needs_conf: it reads the confidence metric too; needs_attrs: the runs' attributes;
    needs_attribute: an --attribute NAME; derived_from: the protocol whose result it
    summarises (a face showing that one may show this one with it)."""

    summary: str
    compute: Callable[[ProtocolInput], dict[str, Any]]
    needs_conf: bool = False
    needs_attrs: bool = False
    needs_attribute: bool = False
    derived_from: str | None = None


def _cross_stage(i: ProtocolInput) -> dict[str, Any]:
    need_pairing(i.ctxs, i.keys, "cross-stage")
    return cross_stage(i.acc, i.conf, i.ctxs, i.cats, i.method)


def _tiers(i: ProtocolInput) -> dict[str, Any]:
    need_pairing(i.ctxs, i.keys, "tiers")
    cross = cross_stage(i.acc, i.conf, i.ctxs, i.cats, i.method)
    return {**tiers(cross, i.cats), "one_sided": cross["one_sided"]}


def _matrices(i: ProtocolInput) -> dict[str, Any]:
    return matrices(i.acc, i.selected, i.ctxs, i.cats, i.method)


def _coherences(i: ProtocolInput) -> dict[str, Any]:
    return coherences(i.acc, i.selected, i.ctxs, i.cats, i.method)


def _alignment(i: ProtocolInput) -> dict[str, Any]:
    if not i.conf:
        raise NotFoundError(
            f"r_align needs accuracy and confidence: no '{i.conf_metric}' results",
            fix=f"give the confidence metric with --conf-metric (metrics: {', '.join(i.metrics)})",
        )
    out = alignment(i.acc, i.conf, i.selected, i.ctxs, i.cats, i.attrs, i.attribute, i.method)
    return {**out, "attribute": i.attribute}


def _attribute_effects(i: ProtocolInput) -> dict[str, Any]:
    assert i.attribute is not None
    out = attribute_effects(i.acc, i.selected, i.cats, i.attrs, i.attribute, i.method)
    return {**out, "attribute": i.attribute}


# name -> protocol, in the order the faces list them (the first is the default view)
PROTOCOLS: dict[str, Protocol] = {
    "matrix": Protocol(
        "benchmark x benchmark matrices (PT-PT, SFT-SFT, PT->SFT) and structural persistence",
        _matrices,
    ),
    "cross-stage": Protocol(
        "per benchmark r_acc and r_conf between the paired stages or scales",
        _cross_stage,
        needs_conf=True,
    ),
    "coherence": Protocol("mean r within each benchmark category", _coherences),
    "align": Protocol(
        "r_align: accuracy against confidence per run and category",
        _alignment,
        needs_conf=True,
        needs_attrs=True,
    ),
    "attribute": Protocol(
        "a run attribute against each benchmark and category",
        _attribute_effects,
        needs_attrs=True,
        needs_attribute=True,
    ),
    "tiers": Protocol(
        "reliability tiers of the benchmarks from their cross-stage r",
        _tiers,
        needs_conf=True,
        derived_from="cross-stage",
    ),
}
