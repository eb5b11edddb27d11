"""The demo experiment's answer with error bars: per selection (top / random / bottom), proxy
size, benchmark set (the run's targets, on examples it held out; the control benchmarks) and
metric, the number and its bootstrap interval over items; the paired differences top - random
and top - bottom on the same items with their intervals; and a verdict in words read from the
intervals alone (engine.analysis.bootstrap.verdict). Pure: the per-item values come in.

A set's number is the mean over its benchmarks of each benchmark's number, with the stratified
bootstrap (set_mean_ci, set_paired_difference: each benchmark's items resampled within it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.analysis.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_METHOD,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    FEW_ITEMS,
    ItemValues,
    align,
    set_mean_ci,
    set_paired_difference,
    verdict,
)
from engine.errors import UsageError
from engine.records import Record

SETS = ("target", "control")
PAIRS = (("top", "random"), ("top", "bottom"))
# the metrics the experiment reads per item: direction (lower is better?) and definition
METRICS: dict[str, tuple[bool, str]] = {
    "bpb": (
        True,
        "the rBridge release's masked-span bpb on gold text: each example a trace whose mask "
        "is its whole gold answer after its question; sum NLL / (sum span bytes * ln 2), "
        "summed over the benchmark",
    ),
    "rbridge": (
        True,
        "the rBridge trace score (frontier-confidence-weighted NLL) on the trace benchmark's "
        "gold traces, mean over traces",
    ),
    "acc": (False, "multiple-choice accuracy (lm-eval's acc), mean over items"),
}
SET_WORDS = {"target": "the targets (held-out examples)", "control": "the control benchmarks"}

Key = tuple[str, int, str, str]  # (selection, size, set, metric)


@dataclass(frozen=True)
class SelectionValue(Record):
    """One selection's number at one size on one set under one metric, with its interval."""

    selection: str
    size: int
    set: str
    metric: str
    benchmarks: list[str]
    n_items: int
    value: float
    ci_low: float | None
    ci_high: float | None
    note: str | None = None


@dataclass(frozen=True)
class PairedValue(Record):
    """a minus b (selections) on the same items of a set, with its paired interval;
    distinguishable: the interval excludes 0."""

    a: str
    b: str
    set: str
    metric: str
    size: int
    diff: float
    ci_low: float | None
    ci_high: float | None
    distinguishable: bool
    n_items: int
    note: str | None = None


@dataclass(frozen=True)
class ExperimentVerdict(Record):
    """The experiment's answer: `values` per selection, size, set and metric; `paired` the
    differences top - random and top - bottom; `verdicts` one sentence per size, metric and
    pair (targets then controls), from the intervals alone; `headline` the first one about
    bpb at the largest size; `sets` the benchmarks of each set; `metrics` each metric's
    definition; `holdout` the run's held-out split (fraction, seed, examples per benchmark);
    the bootstrap's settings; `notes` what was left out and why; `keep` each selection's share
    of the pool's tokens."""

    values: list[SelectionValue]
    paired: list[PairedValue]
    verdicts: list[str]
    headline: str
    sets: dict[str, list[str]]
    metrics: dict[str, str]
    holdout: dict[str, Any] | None
    n_resamples: int
    confidence: float
    seed: int
    method: str
    notes: list[str] = field(default_factory=list)
    keep: float = 0.10  # the selections' share of the pool's tokens (older verdicts: 10%)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExperimentVerdict:
        """Back from `to_json()` (a stored experiment result)."""
        return cls(
            **{
                **data,
                "values": [SelectionValue(**v) for v in data["values"]],
                "paired": [PairedValue(**p) for p in data["paired"]],
            }
        )


def lower_is_better(metric: str) -> bool:
    if metric not in METRICS:
        raise UsageError(f"the experiment has no metric '{metric}'")
    return METRICS[metric][0]


def selection_label(selection: str, keep: float) -> str:
    """ "BETR top 10%", "random 10%", "bottom 10%"."""
    pct = f"{keep * 100:g}%"
    return f"BETR top {pct}" if selection == "top" else f"{selection} {pct}"


def build_verdict(
    items: Mapping[Key, Mapping[str, ItemValues]],
    *,
    keep: float,
    sets: Mapping[str, list[str]],
    holdout: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
    method: str = DEFAULT_METHOD,
) -> ExperimentVerdict:
    """The verdict from per-item values: `items[(selection, size, set, metric)]` = benchmark
    -> that selection's proxy's values on the set's items of that benchmark (a benchmark
    with no item is left out, said in the notes)."""
    settings: dict[str, Any] = {
        "n_resamples": n_resamples,
        "confidence": confidence,
        "seed": seed,
        "method": method,
    }
    notes = list(notes or [])
    clean: dict[Key, dict[str, ItemValues]] = {}
    for key, benches in sorted(items.items(), key=lambda kv: _order(kv[0])):
        lower_is_better(key[3])  # a known metric
        kept = {b: v for b, v in benches.items() if len(v)}
        if kept:
            clean[key] = kept
    values = []
    for (sel, size, set_name, metric), benches in clean.items():
        iv = set_mean_ci(benches, **settings)
        values.append(
            SelectionValue(
                sel,
                size,
                set_name,
                metric,
                list(benches),
                iv.n,
                iv.value,
                iv.ci_low,
                iv.ci_high,
                iv.note,
            )
        )
    paired, verdicts, headline = [], [], ""
    sizes = sorted({k[1] for k in clean}, reverse=True)
    metrics = [m for m in METRICS if any(k[3] == m for k in clean)]
    for size in sizes:
        for metric in metrics:
            for a, b in PAIRS:
                parts = []
                for set_name in SETS:
                    pair = _pair(clean, a, b, size, set_name, metric, keep, settings, notes)
                    if pair is None:
                        continue
                    row, sentence = pair
                    paired.append(row)
                    parts.append(f"on {SET_WORDS[set_name]}: {sentence}")
                if parts:
                    line = f"{size:,} params, {metric}: " + "; ".join(parts)
                    verdicts.append(line)
                    if not headline and metric == "bpb":
                        headline = line
    if not headline:
        headline = verdicts[0] if verdicts else "no verdict: no selection has held-out values"
    few = sorted({(p.set, p.metric, p.n_items) for p in paired if p.n_items < FEW_ITEMS})
    if few:
        listed = ", ".join(f"{s} {m} ({n})" for s, m, n in few)
        notes.append(
            f"fewer than {FEW_ITEMS} items in {listed}: bootstrap intervals over so few items "
            "are too narrow (they cover the truth less often than they claim); read those "
            "verdicts as tentative"
        )
    return ExperimentVerdict(
        values=values,
        paired=paired,
        verdicts=verdicts,
        headline=headline,
        sets={k: list(v) for k, v in sets.items()},
        metrics={m: METRICS[m][1] for m in metrics},
        holdout=holdout,
        notes=notes,
        keep=keep,
        **settings,
    )


def _order(key: Key) -> tuple[int, int, int, int]:
    sel, size, set_name, metric = key
    rank = {"top": 0, "random": 1, "bottom": 2}
    return (-size, list(METRICS).index(metric), SETS.index(set_name), rank.get(sel, 3))


def _pair(
    clean: dict[Key, dict[str, ItemValues]],
    a: str,
    b: str,
    size: int,
    set_name: str,
    metric: str,
    keep: float,
    settings: dict[str, Any],
    notes: list[str],
) -> tuple[PairedValue, str] | None:
    """a - b on the benchmarks and items both have, its row and its verdict sentence."""
    side_a, side_b = clean.get((a, size, set_name, metric)), clean.get((b, size, set_name, metric))
    if side_a is None or side_b is None:
        return None
    va, vb = {}, {}
    for bench in side_a:
        if bench not in side_b:
            continue
        aligned, lost = align({a: side_a[bench], b: side_b[bench]})
        if len(aligned[a]) == 0:
            continue
        if any(lost.values()):
            notes.append(
                f"{metric} on {bench} at {size:,} params: {a} vs {b} on the "
                f"{len(aligned[a])} items both have"
            )
        va[bench], vb[bench] = aligned[a], aligned[b]
    if not va:
        return None
    names = (selection_label(a, keep), selection_label(b, keep))
    pd = set_paired_difference(va, vb, names=names, **settings)
    d = pd.diff
    row = PairedValue(
        a, b, set_name, metric, size, d.value, d.ci_low, d.ci_high, d.distinguishable, d.n, d.note
    )
    return row, verdict(pd, metric, lower_is_better=lower_is_better(metric))


def verdict_lines(v: ExperimentVerdict) -> list[str]:
    """The verdict as text lines for a terminal: the values table, then the sentences."""
    lines = []
    if v.holdout:
        held = ", ".join(f"{b} {n}" for b, n in v.holdout.get("examples", {}).items())
        lines.append(
            f"held out of the BETR run: {v.holdout['fraction'] * 100:g}% of each target "
            f"benchmark's examples (seed {v.holdout['seed']}), never embedded: {held}"
        )
    for set_name in SETS:
        if v.sets.get(set_name):
            lines.append(f"{set_name}: {', '.join(v.sets[set_name])}")
    lines.append(
        f"values with {v.confidence * 100:g}% bootstrap intervals ({v.method}, "
        f"{v.n_resamples} resamples, seed {v.seed}; each benchmark's items resampled within it)"
    )
    for row in v.values:
        ci = (
            f"{row.ci_low:.4f}..{row.ci_high:.4f}"
            if row.ci_low is not None and row.ci_high is not None
            else "no interval"
        )
        lines.append(
            f"  {row.size:>10,}  {row.metric:<8} {row.set:<8} {row.selection:<7} "
            f"{row.value:.4f}  ({ci}, {row.n_items} items)"
        )
    lines.append("verdict:")
    lines += [f"  {s}" for s in v.verdicts] or ["  no verdict: no selection has held-out values"]
    lines += [f"note: {n}" for n in v.notes]
    return lines
