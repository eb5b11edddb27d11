"""Scale-out, pure part: the keep threshold for "X% of tokens (or docs)" over sharded scores,
exact, without a global sort (the passes run in engine.exec.scale.threshold).

The local engine sorts every doc by probability (descending, ties by doc id ascending) and keeps
the prefix `engine.betr.runindex.keep_count` picks. Over shards too large to sort in one place,
the same cut comes in two passes:

1. each shard's `partial` histogram: docs and tokens per probability bin (BINS fixed bins over
   [0, 1], bin = floor(p * BINS), p = 1 in the top bin), `merge`d across shards, exact integer
   counts; `cut_bin` walks the bins from the top and finds the one holding the cut, with the
   docs and tokens of every bin above it;
2. only the docs of that bin (prob, tie key, tokens) are gathered and sorted exactly;
   `exact_cut` finds the cut inside it: the threshold, kept docs and kept tokens equal
   `keep_count` on the fully sorted order.

Binning is monotone (p > q gives bin(p) >= bin(q)), so every doc of a higher bin precedes every
doc of the cut bin in the full order, and the cut bin's docs sorted by (-prob, tie) are exactly
the slice of the full order there. The tie key must order ties as the local engine does: the
run's doc id (ascending) when the corpus is in the workspace; any sortable key otherwise (the
driver uses input order: shard path, then row, the order an import gives doc ids in).

Pure: numpy arrays in, values out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.betr.select import check_keep_by
from engine.errors import InputError, UsageError

BINS = 1 << 16
EPS = 1e-9  # the same slack as keep_count and engine.api.select


@dataclass
class Histogram:
    """Docs and tokens per probability bin (index = bin, higher bin = higher probability)."""

    docs: np.ndarray = field(default_factory=lambda: np.zeros(BINS, dtype=np.int64))
    tokens: np.ndarray = field(default_factory=lambda: np.zeros(BINS, dtype=np.int64))

    @property
    def total_docs(self) -> int:
        return int(self.docs.sum())

    @property
    def total_tokens(self) -> int:
        return int(self.tokens.sum())


@dataclass(frozen=True)
class CutBin:
    """Where the cut falls: its bin, what the bins above it hold, and the target."""

    bin: int
    before_docs: int  # docs in higher bins (all kept)
    before_tokens: int
    total_docs: int
    total_tokens: int
    keep: float
    by: str
    docs_to_keep: int  # by docs: how many; by tokens: 0 (found inside the bin)
    target: float  # by tokens: the token target (keep * total - EPS)


@dataclass(frozen=True)
class Threshold:
    prob: float  # p(positive) of the last kept doc
    kept_docs: int
    kept_tokens: int
    total_docs: int
    total_tokens: int
    keep: float
    by: str
    last_tie: Any  # tie key of the last kept doc (its doc id, or the driver's key)

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["threshold"] = d.pop("prob")
        d["kept_token_share"] = self.kept_tokens / self.total_tokens if self.total_tokens else 0
        if isinstance(self.last_tie, np.generic):
            d["last_tie"] = self.last_tie.item()
        return d


def bin_of(prob: np.ndarray) -> np.ndarray:
    """Bin of each probability: floor(p * BINS), p = 1 in the top bin (exact: BINS is a power
    of two, so the product is exact and the binning monotone)."""
    return np.minimum((np.asarray(prob, dtype=np.float64) * BINS).astype(np.int64), BINS - 1)


def check_probs(prob: np.ndarray, n_tokens: np.ndarray, where: str = "") -> None:
    """InputError naming the first row whose probability is not in [0, 1] or whose token count
    is negative."""
    prob = np.asarray(prob, dtype=np.float64)
    bad = np.flatnonzero(~((prob >= 0.0) & (prob <= 1.0)))
    if len(bad):
        i = int(bad[0])
        raise InputError(
            f"probability {float(prob[i])!r} at row {i} is not in [0, 1]",
            file=where or None,
            field="prob",
            fix="these shards must come from a classifier apply (betr apply --engine ray)",
        )
    neg = np.flatnonzero(np.asarray(n_tokens) < 0)
    if len(neg):
        raise InputError(
            f"negative token count at row {int(neg[0])}", file=where or None, field="n_tokens"
        )


def partial(prob: np.ndarray, n_tokens: np.ndarray, where: str = "") -> Histogram:
    """One shard's histogram (pass 1)."""
    check_probs(prob, n_tokens, where)
    b = bin_of(prob)
    return Histogram(
        docs=np.bincount(b, minlength=BINS).astype(np.int64),
        tokens=_token_sums(b, np.asarray(n_tokens, dtype=np.int64)),
    )


def _token_sums(b: np.ndarray, n_tokens: np.ndarray) -> np.ndarray:
    """Exact int64 token sums per bin: np.bincount sums in float64, exact while a shard holds
    under 2^53 tokens (else the slower integer np.add.at)."""
    if int(n_tokens.sum()) < 1 << 53:
        return np.rint(np.bincount(b, weights=n_tokens, minlength=BINS)).astype(np.int64)
    out = np.zeros(BINS, dtype=np.int64)
    np.add.at(out, b, n_tokens)
    return out


def merge(*hists: Histogram) -> Histogram:
    out = Histogram()
    for h in hists:
        out.docs += h.docs
        out.tokens += h.tokens
    return out


def cut_bin(hist: Histogram, keep: float, by: str = "tokens") -> CutBin:
    """The bin holding the last kept doc at keep rate `keep` (a fraction in (0, 1]), walking
    the bins from the top: by tokens the first non-empty bin whose cumulative tokens reach
    keep * total - EPS, by docs the bin of doc number max(1, ceil(keep * n - EPS))."""
    check_keep_by(by)
    if not 0.0 < keep <= 1.0:
        raise UsageError(f"keep must be in (0, 1], got {keep}")
    n, total = hist.total_docs, hist.total_tokens
    if n == 0:
        raise UsageError("the scores hold no documents", fix="check the scores directory")
    docs_desc = hist.docs[::-1]
    cum_docs = np.cumsum(docs_desc)
    cum_tokens = np.cumsum(hist.tokens[::-1])
    target = keep * float(total) - EPS
    want = 0
    if by == "docs":
        want = max(1, math.ceil(keep * n - EPS))
        j = int(np.searchsorted(cum_docs, want, side="left"))
    else:
        reach = (cum_tokens >= target) & (docs_desc > 0)
        j = int(np.argmax(reach)) if reach.any() else int(np.flatnonzero(docs_desc)[-1])
    before_docs = int(cum_docs[j] - docs_desc[j])
    before_tokens = int(cum_tokens[j] - hist.tokens[::-1][j])
    return CutBin(BINS - 1 - j, before_docs, before_tokens, n, total, keep, by, want, target)


@dataclass
class Candidates:
    """The docs of the cut bin, from every shard (pass 2)."""

    prob: np.ndarray
    tie: np.ndarray
    n_tokens: np.ndarray

    @staticmethod
    def concat(parts: list[Candidates]) -> Candidates:
        if not parts:
            return Candidates(np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, np.int64))
        return Candidates(
            np.concatenate([p.prob for p in parts]).astype(np.float64),
            np.concatenate([p.tie for p in parts]),
            np.concatenate([p.n_tokens for p in parts]).astype(np.int64),
        )


def in_bin(prob: np.ndarray, b: int) -> np.ndarray:
    """Mask of the probabilities that fall in bin `b`."""
    return bin_of(prob) == b


def exact_cut(cands: Candidates, cut: CutBin) -> Threshold:
    """The cut inside the cut bin: its docs sorted by probability descending, then tie key
    ascending, continuing the cumulative counts of the bins above."""
    order = np.lexsort((cands.tie, -cands.prob))
    prob, tie = cands.prob[order], cands.tie[order]
    cum = cut.before_tokens + np.cumsum(cands.n_tokens[order], dtype=np.int64)
    if cut.by == "docs":
        i = cut.docs_to_keep - cut.before_docs - 1
    else:
        i = min(len(cum) - 1, int(np.searchsorted(cum, cut.target, side="left")))
    return Threshold(
        prob=float(prob[i]),
        kept_docs=cut.before_docs + i + 1,
        kept_tokens=int(cum[i]),
        total_docs=cut.total_docs,
        total_tokens=cut.total_tokens,
        keep=cut.keep,
        by=cut.by,
        last_tie=tie[i],
    )


def check_cands(cands: Candidates, hist: Histogram, cut: CutBin) -> None:
    """The gathered candidates are exactly the docs the histogram counted in the cut bin (the
    shards did not change between the passes)."""
    want_docs, want_tokens = int(hist.docs[cut.bin]), int(hist.tokens[cut.bin])
    got_tokens = int(cands.n_tokens.sum()) if len(cands.n_tokens) else 0
    if len(cands.prob) != want_docs or got_tokens != want_tokens:
        raise UsageError(
            f"the scores changed between the two passes (bin {cut.bin}: {want_docs} docs, "
            f"{want_tokens} tokens counted, {len(cands.prob)} docs, {got_tokens} tokens read)",
            fix="run it again once the Ray apply writing them has finished",
        )


def threshold_of(hist: Histogram, gather, keep: float, by: str = "tokens") -> Threshold:
    """Both passes: `gather(bin) -> Candidates` reads the cut bin's docs from the shards."""
    cut = cut_bin(hist, keep, by)
    cands = gather(cut.bin)
    check_cands(cands, hist, cut)
    return exact_cut(cands, cut)
