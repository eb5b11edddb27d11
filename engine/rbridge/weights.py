"""Token weights from letter probabilities, MinMax, and the trace score (METHODS 2, steps 2,
4 and 5).

Invariants:
- tokenizer-agnostic: a proxy token's weight is the mean letter probability over its
  character span [start, end) as the proxy tokenizer reports it (offsets in characters of R,
  R encoded without special tokens); any two tokenizers read the same letter probabilities;
- a token with an empty span (a BOS at (0, 0); a whitespace token that a tokenizer with
  `trim_offsets` reports as empty) gets no weight (NaN) and is excluded from the score;
- a token whose letters all have the same p gets exactly that p (no rounding of the mean);
- MinMax over one trace (scope `trace`, the default) or with the benchmark's (lo, hi)
  (scope `benchmark`); when max == min every u is 1 and the trace is flagged `flat-weights`
  (max - min within FLAT_EPS, relative, counts as equal: float noise of the means);
- trace score = mean over kept tokens of NLL_i * u_i (a plain mean, not divided by sum u).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from itertools import chain

import numpy as np

from engine.errors import InputError, UsageError

FLAT_EPS = 1e-12
LN2 = math.log(2.0)
DEFAULT_PROMPT = "Question: {x}\nAnswer: "
MINMAX_SCOPES = ("trace", "benchmark")
SCORE_VERSION = 1
OFFSETS_FIX = (
    "use a proxy tokenizer that reports character offsets into the text it encoded (a "
    "`tokenizers` tokenizer.json)"
)
_SPAN_TAG = re.compile(r"</?span>")


def as_offsets(offsets) -> np.ndarray:
    """(n, 2) int64 from a list of (start, end) pairs (as tokenizers return them) or an array."""
    if isinstance(offsets, list) and offsets and isinstance(offsets[0], tuple):
        flat = np.fromiter(chain.from_iterable(offsets), dtype=np.int64, count=2 * len(offsets))
        return flat.reshape(-1, 2)
    return np.asarray(offsets, dtype=np.int64).reshape(-1, 2)


def check_offsets(offsets, n_chars: int) -> np.ndarray:
    """Offsets as an (n, 2) int64 array; InputError when a span lies outside the text."""
    off = as_offsets(offsets)
    bad = np.flatnonzero((off[:, 0] < 0) | (off[:, 1] < off[:, 0]) | (off[:, 1] > n_chars))
    if len(bad):
        i = int(bad[0])
        raise InputError(
            f"proxy token {i} has the offsets ({off[i, 0]}, {off[i, 1]}), outside the text of "
            f"{n_chars} characters",
            fix=OFFSETS_FIX,
        )
    return off


def token_weights(letter_p: np.ndarray, offsets) -> tuple[np.ndarray, np.ndarray]:
    """(w, keep): w (n_tokens,) float64 = mean letter p over each token's span, NaN for an
    empty span; keep (n_tokens,) bool = the span is non-empty."""
    p = np.asarray(letter_p, dtype=np.float64).reshape(-1)
    off = check_offsets(offsets, len(p))
    keep = off[:, 1] > off[:, 0]
    w = np.full(len(off), np.nan)
    if not keep.any():
        return w, keep
    s, e = off[keep, 0], off[keep, 1]
    idx = np.empty(2 * len(s), dtype=np.int64)
    idx[0::2], idx[1::2] = s, e
    padded = np.append(p, 0.0)  # so that an end == len(p) is a valid reduceat index
    sums = np.add.reduceat(padded, idx)[0::2]  # even entries: sum over [s, e)
    lo = np.minimum.reduceat(padded, idx)[0::2]
    hi = np.maximum.reduceat(padded, idx)[0::2]
    w[keep] = np.where(lo == hi, lo, np.clip(sums / (e - s), lo, hi))
    return w, keep


def _flat(lo: float, hi: float) -> bool:
    return hi - lo <= FLAT_EPS * max(1.0, abs(lo), abs(hi))


def minmax(
    w: np.ndarray, lo: float | None = None, hi: float | None = None
) -> tuple[np.ndarray, bool]:
    """(u, flat): u = (w - lo) / (hi - lo); lo, hi = min and max of w (NaN ignored) unless
    given (the `benchmark` scope). When hi == lo every u is 1 and flat is True. NaN stays NaN."""
    w = np.asarray(w, dtype=np.float64)
    if (lo is None) != (hi is None):
        raise ValueError("give both lo and hi, or neither")
    finite = ~np.isnan(w)
    if lo is None:
        if not finite.any():
            return np.full(len(w), np.nan), False
        lo, hi = float(np.min(w[finite])), float(np.max(w[finite]))
    if _flat(float(lo), float(hi)):
        return np.where(finite, 1.0, np.nan), True
    return (w - lo) / (hi - lo), False


def weight_range(weights: Iterable[np.ndarray]) -> tuple[float, float] | None:
    """(min, max) over all non-NaN weights of many traces (the `benchmark` scope), or None."""
    parts = [w[~np.isnan(w)] for w in (np.asarray(x, dtype=np.float64) for x in weights)]
    parts = [x for x in parts if len(x)]
    if not parts:
        return None
    allw = np.concatenate(parts)
    return float(allw.min()), float(allw.max())


def trace_score(nll: np.ndarray, u: np.ndarray) -> float:
    """mean_i(NLL_i * u_i) over the tokens whose u is not NaN (a plain mean)."""
    nll = np.asarray(nll, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    if nll.shape != u.shape:
        raise ValueError(f"{len(nll)} NLL values for {len(u)} weights")
    scored = ~np.isnan(u)
    if not scored.any():
        raise ValueError("no scored tokens")
    return float(np.mean(nll[scored] * u[scored]))


def bits_per_byte(nll_sum_nats: float, n_bytes: int) -> float:
    """-log-likelihood in bits per UTF-8 byte: sum NLL / (bytes * ln 2)."""
    if n_bytes <= 0:
        raise ValueError("bits per byte of an empty text")
    return float(nll_sum_nats) / (n_bytes * LN2)


def mask_spans(reasoning_with_tags: str) -> tuple[str, list[tuple[int, int]]]:
    """(text without the tags, [start, end) of each non-empty <span>...</span> in that text).
    Nested, unclosed or unopened spans are an InputError."""
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    n, last, open_at = 0, 0, None
    for m in _SPAN_TAG.finditer(reasoning_with_tags):
        pieces.append(reasoning_with_tags[last : m.start()])
        n += m.start() - last
        last = m.end()
        if m.group() == "<span>":
            if open_at is not None:
                raise InputError(
                    f"nested <span> at character {m.start()}",
                    fix="close each <span> with </span> before opening the next",
                )
            open_at = n
        else:
            if open_at is None:
                raise InputError(
                    f"</span> without <span> at character {m.start()}",
                    fix="every </span> needs an opening <span>",
                )
            if n > open_at:
                spans.append((open_at, n))
            open_at = None
    if open_at is not None:
        raise InputError("a <span> is never closed", fix="close it with </span>")
    pieces.append(reasoning_with_tags[last:])
    return "".join(pieces), spans


@dataclass
class TokenWeights:
    """One trace's weights under one proxy tokenizer, before the NLL is known; all arrays
    (n_tokens,), NaN where a token is excluded."""

    weight: np.ndarray  # float64 mean letter p (NaN: empty span or no probabilities)
    weight_minmax: np.ndarray  # float64 u (1 on kept tokens for no-probs or flat traces)
    keep: np.ndarray  # bool: the token takes part in the rBridge score
    flags: list[str] = field(default_factory=list)  # "no-probs", "flat-weights", "empty"


def proxy_token_weights(
    letter_p: np.ndarray | None,
    offsets,
    *,
    lo: float | None = None,
    hi: float | None = None,
) -> TokenWeights:
    """Weights and MinMax weights of a trace's proxy tokens. `lo`, `hi`: the benchmark's
    range (scope `benchmark`; see weight_range), None for scope `trace`. Without letter
    probabilities every kept token gets u = 1 (plain NLL) and the flag `no-probs`."""
    flags: list[str] = []
    if letter_p is None:
        off = as_offsets(offsets)
        keep = off[:, 1] > off[:, 0]
        w = np.full(len(off), np.nan)
        u = np.where(keep, 1.0, np.nan)
        flags.append("no-probs")
    else:
        w, keep = token_weights(letter_p, offsets)
        u, flat = minmax(w, lo, hi)
        if flat:
            flags.append("flat-weights")
    if not keep.any():
        flags.append("empty")
    return TokenWeights(w, u, keep, flags)


@dataclass(frozen=True)
class ScoreConfig:
    """What a cached score depends on besides the proxy and the traces."""

    minmax: str = "trace"
    prompt: str = DEFAULT_PROMPT
    version: int = SCORE_VERSION

    def __post_init__(self) -> None:
        if self.minmax not in MINMAX_SCOPES:
            raise UsageError(
                f"--minmax must be one of {', '.join(MINMAX_SCOPES)}, got '{self.minmax}'"
            )
        if "{x}" not in self.prompt:
            raise UsageError(
                "the prompt must contain {x} where the question goes",
                fix='e.g. --prompt "Question: {x}\\nAnswer: "',
            )

    def as_dict(self) -> dict:
        return asdict(self)

    def hash(self) -> str:
        """sha256 hex of the config as sorted JSON (stable across runs and machines)."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()

    def context(self, question: str) -> str:
        return self.prompt.replace("{x}", question)
