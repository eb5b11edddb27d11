r"""One trace's rBridge numbers from its letter probabilities, the proxy tokenizer's offsets
and the proxy's per-token NLL (METHODS 2, steps 2, 4 and 5), and a benchmark's aggregates.

Conventions (documented in the README):
- the rBridge trace score is mean_i(NLL_i * u_i) over R's tokens with a non-empty span;
- R-phi is the plain mean NLL over all of R's tokens; gold is the mean NLL of the gold
  answer's tokens after the same prompt;
- `bpb_prompted` (betr's own): per trace, sum NLL / (UTF-8 bytes * ln 2) of R after betr's
  prompt (over the spans' tokens for a `mask` trace: a token counts when its span starts
  inside a span); the benchmark's is the mean over traces;
- `bpb` is the rBridge release's masked-span number (`mask_sums`, `release_mask_metrics`):
  question + R (spans' tags removed) tokenized together, no separator, no prompt; a token
  counts when its character offsets overlap a span; summed over the whole benchmark:
  bpb = sum NLL / (sum span bytes * ln 2), with byte perplexity exp(sum NLL / sum bytes) and
  word perplexity exp(sum NLL / sum words) beside it (words as lm-eval counts them,
  len(re.split(r"\s+", span)) per span). Only `mask` traces have it;
- a trace without letter probabilities is scored with u_i = 1 (plain NLL) and flagged
  `no-probs`; max w == min w gives u_i = 1 and the flag `flat-weights`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from engine.rbridge.weights import minmax, token_weights, trace_score

LN2 = math.log(2.0)


@dataclass
class TraceWeights:
    """Weights of one trace under one proxy tokenizer (before the NLL is known)."""

    offsets: np.ndarray  # (n, 2) int
    w: np.ndarray  # (n,) float64, NaN where the span is empty or there are no probabilities
    keep: np.ndarray  # (n,) bool: tokens that take part in the rBridge score
    has_probs: bool


@dataclass
class TraceResult:
    score: float | None
    nll_rphi: float | None
    nll_gold: float | None
    bpb: float | None
    n_tokens: int
    flags: list[str] = field(default_factory=list)
    weight: np.ndarray | None = None  # per token (NaN where excluded)
    weight_minmax: np.ndarray | None = None
    nll: np.ndarray | None = None


def trace_weights(letter_probs: np.ndarray | None, offsets: list[tuple[int, int]]) -> TraceWeights:
    off = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    nonempty = off[:, 1] > off[:, 0]
    if letter_probs is None:
        return TraceWeights(off, np.full(len(off), np.nan), nonempty, False)
    w, keep = token_weights(np.asarray(letter_probs, dtype=np.float64), [tuple(o) for o in off])
    return TraceWeights(off, np.asarray(w, dtype=np.float64), np.asarray(keep, bool), True)


def benchmark_range(weights: list[TraceWeights]) -> tuple[float, float] | None:
    """(min, max) of the kept token weights over every trace with probabilities (the
    `benchmark` MinMax scope), or None when no trace has any."""
    parts = [tw.w[tw.keep] for tw in weights if tw.has_probs and tw.keep.any()]
    if not parts:
        return None
    allw = np.concatenate(parts)
    return float(np.min(allw)), float(np.max(allw))


def score_trace(
    tw: TraceWeights,
    nll: np.ndarray,
    *,
    reasoning: str,
    gold_nll: np.ndarray | None = None,
    scope_range: tuple[float, float] | None = None,
    spans: list[tuple[int, int]] | None = None,
) -> TraceResult:
    """The trace's numbers. `scope_range` is the benchmark's (min, max) for the `benchmark`
    MinMax scope (None: per trace)."""
    nll = np.asarray(nll, dtype=np.float64)
    n = len(nll)
    if n != len(tw.offsets):
        raise ValueError(f"{n} NLL values for {len(tw.offsets)} tokens")
    flags: list[str] = []
    weight_minmax = np.full(n, np.nan)
    score = None
    if not tw.keep.any():
        flags.append("empty")
    else:
        if tw.has_probs:
            lo, hi = scope_range if scope_range is not None else (None, None)
            u, flat = minmax(tw.w[tw.keep], lo, hi)
            if flat:
                flags.append("flat-weights")
        else:
            u = np.ones(int(tw.keep.sum()))
            flags.append("no-probs")
        weight_minmax[tw.keep] = u
        score = float(trace_score(nll[tw.keep], np.asarray(u, dtype=np.float64)))
    nll_rphi = float(nll.mean()) if n else None
    nll_gold = float(gold_nll.mean()) if gold_nll is not None and len(gold_nll) else None
    if spans:
        flags.append("mask")
        starts = tw.offsets[:, 0]
        in_span = np.zeros(n, dtype=bool)
        for s, e in spans:
            in_span |= (starts >= s) & (starts < e)
        n_bytes = sum(len(reasoning[s:e].encode("utf-8")) for s, e in spans)
        bpb = float(nll[in_span].sum() / (n_bytes * LN2)) if n_bytes else None
    else:
        n_bytes = len(reasoning.encode("utf-8"))
        bpb = float(nll.sum() / (n_bytes * LN2)) if n_bytes else None
    return TraceResult(
        score=score,
        nll_rphi=nll_rphi,
        nll_gold=nll_gold,
        bpb=bpb,
        n_tokens=n,
        flags=flags,
        weight=tw.w,
        weight_minmax=weight_minmax,
        nll=nll,
    )


@dataclass(frozen=True)
class MaskSums:
    """One mask trace under the release's procedure: sums the benchmark adds up."""

    nll: float  # nats: sum of -log p over the tokens overlapping a span
    n_bytes: int  # UTF-8 bytes of the spans
    n_words: int  # words of the spans (lm-eval's count_words per span)
    n_tokens: int  # tokens counted
    n_unscored: int  # tokens overlapping a span with nothing before them to condition on


def count_words(text: str) -> int:
    r"""lm-eval's count_words: len(re.split(r"\s+", text))."""
    return len(re.split(r"\s+", text))


def mask_sums(
    offsets: np.ndarray,
    nll: np.ndarray,
    *,
    question: str,
    reasoning: str,
    spans: list[tuple[int, int]],
) -> MaskSums:
    """The release's sums for one trace. `offsets` (n, 2): character offsets of the tokens of
    question + reasoning (tokenized together, no special tokens); `nll` (n,): -log p of each
    token given everything before it (NaN for a token with nothing before it: the first token
    when the tokenizer adds no BOS). Spans are [start, end) in the reasoning; a token counts
    when [start, end) overlaps a span (shifted by len(question))."""
    off = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    nll = np.asarray(nll, dtype=np.float64)
    if len(off) != len(nll):
        raise ValueError(f"{len(nll)} NLL values for {len(off)} tokens")
    shift = len(question)
    hit = np.zeros(len(off), dtype=bool)
    for s, e in spans:
        hit |= (off[:, 0] < e + shift) & (off[:, 1] > s + shift)
    scored = hit & ~np.isnan(nll)
    texts = [reasoning[s:e] for s, e in spans]
    return MaskSums(
        nll=float(nll[scored].sum()),
        n_bytes=sum(len(t.encode("utf-8")) for t in texts),
        n_words=sum(count_words(t) for t in texts),
        n_tokens=int(scored.sum()),
        n_unscored=int((hit & np.isnan(nll)).sum()),
    )


def release_mask_metrics(rows: list[dict]) -> dict[str, float | None]:
    """bpb, byte_perplexity and word_perplexity over every row with mask sums (keys mask_nll,
    mask_bytes, mask_words), summed over the benchmark first (corpus-level, as the release)."""
    masked = [r for r in rows if r.get("mask_bytes")]
    if not masked:
        return {"bpb": None, "byte_perplexity": None, "word_perplexity": None}
    nll = float(sum(r["mask_nll"] for r in masked))
    n_bytes = sum(r["mask_bytes"] for r in masked)
    n_words = sum(r["mask_words"] for r in masked)
    return {
        "bpb": nll / (n_bytes * LN2),
        "byte_perplexity": math.exp(nll / n_bytes),
        "word_perplexity": math.exp(nll / n_words) if n_words else None,
    }


# the benchmark numbers that are a mean over traces, by name: the per-trace column averaged
TRACE_MEANS = {
    "rbridge": "score",
    "nll_rphi": "nll_rphi",
    "nll_gold": "nll_gold",
    "bpb_prompted": "bpb",
}
# every benchmark number with a share per trace (`trace_share`): the means, and the release's bpb
TRACE_METRICS = (*TRACE_MEANS, "bpb")


def trace_share(row: dict, metric: str) -> tuple[float, float | None] | None:
    """One trace's share of the benchmark's `metric` as `aggregate` computes it: (value, None)
    for a mean over traces; for the release's `bpb` (NLL in bits, bytes), the benchmark's
    number being the sum of the first over the sum of the second; None: the trace has none
    (no value, or no mask)."""
    if metric == "bpb":
        if not row.get("mask_bytes"):
            return None
        return float(row["mask_nll"]) / LN2, float(row["mask_bytes"])
    value = row.get(TRACE_MEANS[metric])
    return None if value is None else (float(value), None)


def aggregate(rows: list[dict]) -> dict:
    """A benchmark's numbers from its per-trace rows: each the mean over the traces that have
    it (bpb and the perplexities: summed first, `release_mask_metrics`), with the counts that
    say how much to trust it."""

    def mean(key: str) -> float | None:
        vals = [r[key] for r in rows if r.get(key) is not None]
        return float(np.mean(vals)) if vals else None

    flags: dict[str, int] = {}
    for r in rows:
        for f in r["flags"]:
            flags[f] = flags.get(f, 0) + 1
    return {
        **{name: mean(column) for name, column in TRACE_MEANS.items()},
        **release_mask_metrics(rows),
        "n_mask_traces": sum(1 for r in rows if r.get("mask_bytes")),
        "n_traces": len(rows),
        "n_scored": sum(1 for r in rows if r.get("score") is not None),
        "n_tokens": int(sum(r["n_tokens"] for r in rows)),
        "flags": flags,
    }
