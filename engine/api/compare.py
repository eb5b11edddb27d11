"""Compare proxies scored on the same items, with error bars (`betr compare`): per proxy the
benchmark number and its bootstrap interval over items, every pair's paired difference with
its interval, and a verdict per pair read from the interval alone (engine.analysis.bootstrap).

The per-item values are the ones the stored numbers are made of:
- rBridge metrics (engine.rbridge.scoring.TRACE_METRICS: rbridge, nll_rphi, nll_gold,
  bpb_prompted, and the release's bpb summed over mask traces): each trace's share in the
  proxies' finished scores on the benchmark, under one scoring config all of them have (the
  latest such), so the value equals `betr rbridge show`'s;
- multiple-choice accuracies (engine.analysis.mc.ACCURACIES: acc, acc_norm, acc_bytes,
  acc_per_char): each item right (1) or wrong (0), from the items `betr proxy eval` stored.

Items are matched by their own id (the trace's or the example's). The comparison runs on the
items every proxy has a value for; how many each proxy lost is reported (`missing`), and no
common item at all is an error. A metric's direction (lower is better for a loss, an NLL, a
bpb, an rBridge score) is engine.api.analysis_fit.is_loss.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from engine.analysis.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_METHOD,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    FEW_ITEMS,
    Interval,
    ItemValues,
    PairedDifference,
)
from engine.analysis.bootstrap import METHODS as BOOTSTRAP_METHODS  # the registry, for the faces
from engine.analysis.mc import ACCURACIES, item_row
from engine.api.analysis_fit import is_loss
from engine.api.proxies import ProxyInfo, resolve_proxy
from engine.api.rbridge import resolve_benchmark
from engine.api.records import Record
from engine.errors import NotFoundError, UsageError
from engine.rbridge.scoring import TRACE_METRICS, trace_share
from engine.store import evals
from engine.store import rbridge as store_rb
from engine.workspace import Workspace

__all__ = ["BOOTSTRAP_METHODS", "CompareRequest", "Comparison", "compare", "compare_metrics"]


def compare_metrics() -> tuple[str, ...]:
    """The metrics `betr compare` knows: the rBridge numbers, then the MC accuracies."""
    return (*TRACE_METRICS, *ACCURACIES)


def parse_proxies(spec: str | Sequence[str]) -> list[str]:
    """ "A,B,C" (or a list) -> the names, at least two, none twice."""
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [p.strip() for p in parts if p.strip()]
    if len(names) < 2:
        raise UsageError(
            f"compare needs at least two proxies, got {len(names)}",
            fix="name them with commas: --proxies A,B[,C] (betr proxy list)",
        )
    dup = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if dup is not None:
        raise UsageError(f"proxy '{dup}' is named twice", fix="name each proxy once")
    return names


@dataclass(frozen=True)
class CompareRequest:
    """Proxies (names or ids, at least two) scored on `benchmark` (or several: "a,b", the
    mean over them) under `metric`; the bootstrap's resamples, seed, confidence level and
    method (BOOTSTRAP_METHODS)."""

    proxies: Sequence[str]
    benchmark: str | Sequence[str]
    metric: str
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    confidence: float = DEFAULT_CONFIDENCE
    method: str = DEFAULT_METHOD


@dataclass(frozen=True)
class ProxyValue(Record):
    """A proxy's number on the compared items and its interval (None with one item)."""

    proxy: str
    value: float
    ci_low: float | None
    ci_high: float | None
    note: str | None


@dataclass(frozen=True)
class PairRow(Record):
    """a minus b on the compared items, with its paired interval; distinguishable: the
    interval excludes 0."""

    a: str
    b: str
    metric: str
    diff: float
    ci_low: float | None
    ci_high: float | None
    distinguishable: bool
    note: str | None


@dataclass(frozen=True)
class Comparison(Record):
    """`betr compare`'s result: per proxy the number and interval, every pair's difference,
    a verdict per pair; `source`: where the per-item values came from; `missing`: items of
    a proxy left out because another proxy has no value for them; `method`: the method asked
    for (a pair or proxy whose interval needed another says so in its note). Over several
    benchmarks, `benchmark` names them all ("a, b"), the numbers are the means over them of
    each benchmark's number (`n_items` all their items), and `benchmarks` holds each one's
    own comparison."""

    benchmark: str
    metric: str
    lower_is_better: bool
    source: str
    n_items: int
    proxies: list[ProxyValue]
    paired: list[PairRow]
    verdicts: list[str]
    n_resamples: int
    confidence: float
    seed: int
    method: str
    missing: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    benchmarks: list[Comparison] = field(default_factory=list)  # over several: each one's

    def to_json(self) -> dict[str, Any]:
        """The shape of `betr compare --json`."""
        return {
            "benchmark": self.benchmark,
            "metric": self.metric,
            "lower_is_better": self.lower_is_better,
            "source": self.source,
            "n_items": self.n_items,
            "proxies": [p.to_json() for p in self.proxies],
            "paired": [p.to_json() for p in self.paired],
            "verdicts": list(self.verdicts),
            "n_resamples": self.n_resamples,
            "confidence": self.confidence,
            "seed": self.seed,
            "method": self.method,
            "missing": dict(self.missing),
            "notes": list(self.notes),
            **({"benchmarks": [c.to_json() for c in self.benchmarks]} if self.benchmarks else {}),
        }


def resolve_metric(name: str) -> str:
    """The metric `name` means (another spelling too: acc-norm = acc_norm), else a
    NotFoundError with the closest names and every one betr compare knows."""
    from engine.names import matching, suggest

    found = matching(name, compare_metrics())
    if len(found) == 1:
        return found[0]
    raise NotFoundError(
        f"unknown metric '{name}' for a comparison",
        fix=f"{suggest(name, compare_metrics(), 'metric')} (rBridge scores: "
        f"{', '.join(TRACE_METRICS)}; multiple-choice items: {', '.join(ACCURACIES)})",
    )


def parse_benchmarks(spec: str | Sequence[str]) -> list[str]:
    """ "gsm8k" or "gsm8k,math" (or a list) -> the names, at least one, none twice."""
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [p.strip() for p in parts if p.strip()]
    if not names:
        raise UsageError("no benchmark given", fix="--benchmark NAME[,NAME...]")
    return names


def compare(workspace: Workspace, req: CompareRequest) -> Comparison:
    """The comparison (module doc) on one benchmark, or on several (`req.benchmark`
    "a,b"): each one's, and the mean over them of each benchmark's number with a stratified
    interval (engine.analysis.bootstrap.set_mean_ci); nothing is written."""
    from engine.analysis.bootstrap import check_settings

    names = parse_proxies(req.proxies)
    metric = resolve_metric(req.metric)
    check_settings(req.n_resamples, req.confidence, req.method)
    loaded = []
    with closing(workspace.connect(readonly=True)) as conn:
        proxies = [resolve_proxy(conn, n) for n in names]
        dup = next((p for i, p in enumerate(proxies) if p.id in {q.id for q in proxies[:i]}), None)
        if dup is not None:
            raise UsageError(f"proxy '{dup.name}' is named twice", fix="name each proxy once")
        seen: set[int] = set()
        for name in parse_benchmarks(req.benchmark):
            bench = resolve_benchmark(conn, name)
            if bench["id"] in seen:
                raise UsageError(
                    f"benchmark '{bench['name']}' is named twice", fix="name each benchmark once"
                )
            seen.add(bench["id"])
            if metric in TRACE_METRICS:
                loaded.append((str(bench["name"]), *_trace_values(conn, proxies, bench, metric)))
            else:
                loaded.append((str(bench["name"]), *_mc_values(conn, proxies, bench, metric)))
    settings: dict[str, Any] = {
        "n_resamples": req.n_resamples,
        "confidence": req.confidence,
        "seed": req.seed,
        "method": req.method,
    }
    each = [_one(*args, metric=metric, settings=settings) for args in loaded]
    if len(each) == 1:
        return each[0][0]
    return _over_set(each, metric, settings)


def _one(
    benchmark: str,
    samples: dict[str, ItemValues],
    source: str,
    notes: list[str],
    *,
    metric: str,
    settings: dict[str, Any],
) -> tuple[Comparison, dict[str, ItemValues]]:
    """One benchmark's comparison, and the proxies' values on its common items."""
    from engine.analysis.bootstrap import align, bootstrap_ci, paired_difference

    aligned, lost = align(samples)
    n_items = len(next(iter(aligned.values())))
    if n_items == 0:
        counts = ", ".join(f"{name} {len(s)}" for name, s in samples.items())
        raise UsageError(
            f"the proxies have no item of '{benchmark}' in common under {metric} "
            f"(items with a value: {counts})",
            fix="score every proxy on the same items of the benchmark",
        )
    per_proxy, pairs, verdicts = _intervals(
        aligned, bootstrap_ci, paired_difference, metric, settings
    )
    missing = {name: k for name, k in lost.items() if k}
    if missing:
        notes.append(
            f"compared on the {n_items} items every proxy has; left out: "
            + ", ".join(f"{k} of {name}'s" for name, k in missing.items())
        )
    notes += _few(n_items)
    comparison = Comparison(
        benchmark=benchmark,
        metric=metric,
        lower_is_better=is_loss(metric),
        source=source,
        n_items=n_items,
        proxies=per_proxy,
        paired=pairs,
        verdicts=verdicts,
        missing=missing,
        notes=notes,
        **settings,
    )
    return comparison, aligned


def _intervals(
    values: dict[str, Any],
    one: Callable[..., Interval],
    pair: Callable[..., PairedDifference],
    metric: str,
    settings: dict[str, Any],
) -> tuple[list[ProxyValue], list[PairRow], list[str]]:
    """Per proxy `one(its values)`, per pair `pair(a's, b's)` and the pair's verdict."""
    from engine.analysis.bootstrap import verdict

    per_proxy = []
    for name, v in values.items():
        iv = one(v, **settings)
        per_proxy.append(ProxyValue(name, iv.value, iv.ci_low, iv.ci_high, iv.note))
    pairs, verdicts = [], []
    for a, b in combinations(values, 2):
        pd = pair(values[a], values[b], names=(a, b), **settings)
        d = pd.diff
        pairs.append(PairRow(a, b, metric, d.value, d.ci_low, d.ci_high, d.distinguishable, d.note))
        verdicts.append(verdict(pd, metric, lower_is_better=is_loss(metric)))
    return per_proxy, pairs, verdicts


def _few(n_items: int) -> list[str]:
    if n_items >= FEW_ITEMS:
        return []
    return [
        f"only {n_items} items: bootstrap intervals over fewer than {FEW_ITEMS} items are too "
        "narrow (they cover the truth less often than they claim); read the verdicts as "
        "tentative"
    ]


def _over_set(
    each: list[tuple[Comparison, dict[str, ItemValues]]], metric: str, settings: dict[str, Any]
) -> Comparison:
    """The mean over the benchmarks of each one's number, per proxy and per pair, each
    benchmark's items resampled within it; the benchmarks' own comparisons inside."""
    from engine.analysis.bootstrap import set_mean_ci, set_paired_difference

    proxies = list(each[0][1])
    by_proxy = {p: {c.benchmark: aligned[p] for c, aligned in each} for p in proxies}
    per_proxy, pairs, verdicts = _intervals(
        by_proxy, set_mean_ci, set_paired_difference, metric, settings
    )
    n_items = sum(c.n_items for c, _ in each)
    names = [c.benchmark for c, _ in each]
    notes = [
        f"the mean over {len(names)} benchmarks of each one's {metric}; each benchmark's items "
        "resampled within it",
        *_few(n_items),
    ]
    return Comparison(
        benchmark=", ".join(names),
        metric=metric,
        lower_is_better=is_loss(metric),
        source="; ".join(dict.fromkeys(c.source for c, _ in each)),
        n_items=n_items,
        proxies=per_proxy,
        paired=pairs,
        verdicts=verdicts,
        notes=notes,
        benchmarks=[c for c, _ in each],
        **settings,
    )


def _trace_values(
    conn: sqlite3.Connection, proxies: list[ProxyInfo], bench: sqlite3.Row, metric: str
) -> tuple[dict[str, ItemValues], str, list[str]]:
    """Per proxy its traces' shares of `metric` (trace_share), from the finished scores of one
    scoring config every proxy has (the most recently finished such config)."""
    done: dict[str, dict[str, dict[str, Any]]] = {}  # proxy -> config hash -> latest score
    for p in proxies:
        rows = [
            s
            for s in store_rb.list_scores(conn, benchmark_id=bench["id"], proxy_id=p.id)
            if s["state"] == "done"
        ]
        if not rows:
            raise NotFoundError(
                f"proxy '{p.name}' has no finished rBridge score on '{bench['name']}'",
                fix=f"score it: betr rbridge score --proxy {p.name} --benchmark {bench['name']}",
            )
        latest: dict[str, dict[str, Any]] = {}
        for s in sorted(rows, key=_when):
            latest[s["config_hash"]] = s
        done[p.name] = latest
    common = set.intersection(*(set(d) for d in done.values()))
    if not common:
        raise UsageError(
            f"the proxies' rBridge scores on '{bench['name']}' were made under different "
            "settings (MinMax scope or prompt): their traces' numbers do not compare",
            fix="score every proxy with the same --minmax and --prompt: betr rbridge score "
            f"--proxy P --benchmark {bench['name']}",
        )
    key = max(common, key=lambda h: max(d[h]["finished_at"] or 0 for d in done.values()))
    notes = []
    stale = [name for name, d in done.items() if max(d.values(), key=_when)["config_hash"] != key]
    if stale:
        notes.append(
            "compared under the scoring settings every proxy has; the latest score of "
            + ", ".join(stale)
            + " used other settings"
        )
    samples = {}
    for name, d in done.items():
        ids, values, weights = [], [], []
        for r in store_rb.trace_scores(conn, d[key]["id"]):
            share = trace_share(r, metric)
            if share is None:
                continue
            ids.append(str(r["ext_id"]))
            values.append(share[0])
            weights.append(share[1])
        samples[name] = ItemValues.of(
            values, ids, None if metric != "bpb" else np.asarray(weights, dtype=np.float64)
        )
    config = next(iter(done.values()))[key]["config"]
    source = f"rBridge scores with MinMax per {config.get('minmax')}: one value per trace"
    return samples, source, notes


def _when(score: dict[str, Any]) -> tuple[float, int]:
    return (score["finished_at"] or 0, score["id"])


def _mc_values(
    conn: sqlite3.Connection, proxies: list[ProxyInfo], bench: sqlite3.Row, metric: str
) -> tuple[dict[str, ItemValues], str, list[str]]:
    """Per proxy its items right (1.0) or wrong (0.0) under `metric` (engine.analysis.mc)."""
    samples, conventions = {}, {}
    for p in proxies:
        rows = evals.mc_item_rows(conn, p.id, int(bench["id"]))
        if not rows:
            raise NotFoundError(
                f"proxy '{p.name}' has no multiple-choice items on '{bench['name']}'",
                fix=f"evaluate it: betr proxy eval --proxy {p.name} --benchmark {bench['name']}",
            )
        ids, values = [], []
        for r in rows:
            choices = [str(c) for c in r["choices"]] if r["choices"] is not None else None
            correct = item_row(r["logliks"], int(r["gold"]), choices, r["n_chars"])["correct"]
            if metric in correct:
                ids.append(str(r["ext_id"]))
                values.append(1.0 if correct[metric] else 0.0)
        samples[p.name] = ItemValues.of(values, ids)
        conventions[p.name] = sorted({str(r["bos"]) for r in rows})
    notes = []
    if len({tuple(c) for c in conventions.values()}) > 1:
        notes.append(
            "the proxies' items were scored under different BOS conventions: "
            + ", ".join(f"{name} {'/'.join(c)}" for name, c in conventions.items())
        )
    return samples, "multiple-choice items (1 right, 0 wrong)", notes
