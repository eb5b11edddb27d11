"""One trace's tokens as the per-token view shows them: the colourings, the wrapped lines and
the status-line numbers. No widgets here; `tokenview` draws it.

Offsets are character offsets into the trace's reasoning text R (the proxy tokenizer's spans).
A token whose letter weight is NaN (an empty span, or a trace without letter probabilities)
takes no part in the rBridge score: it is drawn dim and has no weighted NLL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from rich.cells import cell_len

from engine.terminal import visible
from engine.units import format_number, format_percent

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from engine.api.rbridge import ScoredTrace

# colouring key -> (legend title, short name, theme variable at the high end of the scale)
COLOURINGS: dict[str, tuple[str, str, str]] = {
    "weight": ("MinMax weight u (frontier confidence)", "weight u", "primary"),
    "nll": ("proxy NLL (nats/token)", "NLL", "warning"),
    "weighted": ("weighted NLL = NLL × u (what the score averages)", "NLL×u", "error"),
}
COLOURING_ORDER = tuple(COLOURINGS)
TOP_TOKENS = 10  # `t` walks the tokens with the largest NLL × u, this many


def glyph(char: str) -> str:
    """How one character of R is drawn: controls as symbols (never sent to the terminal), a
    newline as one blank cell at the end of its line (it carries its token's colour)."""
    if char == "\n":
        return " "
    return visible(char, lines=False)


def shown_token(text: str, limit: int = 40) -> str:
    """The token's text for the status line: its repr, controls made visible, cut to `limit`."""
    shown = visible(repr(text), lines=False)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


@dataclass
class TraceTokens:
    """A trace's text and per-token arrays (float64, NaN where unknown or excluded)."""

    trace_id: int
    ext_id: str
    text: str
    starts: np.ndarray
    ends: np.ndarray
    weight: np.ndarray  # letter weight w: mean letter probability over the token's span
    weight_minmax: np.ndarray  # u: MinMax-scaled weight
    nll: np.ndarray  # nats
    score: float | None = None
    flags: list[str] = field(default_factory=list)

    @classmethod
    def from_api(cls, data: ScoredTrace) -> TraceTokens:
        """From `engine.api.rbridge.trace_tokens` (arrays None: no per-token rows)."""
        trace, score, arrays = data.trace, data.score, data.arrays
        empty = np.zeros(0)
        a = arrays or {}
        text = trace["reasoning"] or ""

        def col(name: str, dtype: DTypeLike = np.float64) -> np.ndarray:
            v = a.get(name)
            return empty.astype(dtype) if v is None else np.asarray(v, dtype=dtype)

        starts = np.clip(col("starts", np.int64), 0, len(text))
        ends = np.clip(col("ends", np.int64), 0, len(text))
        return cls(
            trace_id=int(trace["id"]),
            ext_id=str(trace["ext_id"]),
            text=text,
            starts=starts,
            ends=np.maximum(ends, starts),
            weight=col("weight"),
            weight_minmax=col("weight_minmax"),
            nll=col("nll"),
            score=score.get("score"),
            flags=list(score.get("flags") or []),
        )

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def weighted(self) -> np.ndarray:
        weighted: np.ndarray = self.nll * self.weight_minmax
        return weighted

    def values(self, colouring: str) -> np.ndarray:
        if colouring == "weight":
            return self.weight_minmax
        if colouring == "nll":
            return self.nll
        return self.weighted

    def char_token(self) -> np.ndarray:
        """(len(text),) int32: the token each character belongs to, -1 for none."""
        out = np.full(len(self.text), -1, dtype=np.int32)
        for i in range(len(self.starts)):
            out[self.starts[i] : self.ends[i]] = i
        return out

    def top_tokens(self, k: int = TOP_TOKENS) -> list[int]:
        """The tokens with the largest NLL × u (those carrying most of the score), largest
        first; ties by position."""
        w = self.weighted
        ok = np.flatnonzero(np.isfinite(w))
        order = ok[np.lexsort((ok, -w[ok]))]
        return [int(i) for i in order[:k]]

    def share(self, i: int) -> float | None:
        """Token i's part of the trace's sum of NLL × u."""
        w = self.weighted
        total = float(np.nansum(w))
        return float(w[i]) / total if total > 0 and np.isfinite(w[i]) else None


def value_range(values: np.ndarray) -> tuple[float, float] | None:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return None
    return float(finite.min()), float(finite.max())


def scale_position(value: float, lo: float, hi: float) -> float:
    """Where `value` sits on the legend, 0..1 (the middle when the range is flat)."""
    if hi <= lo:
        return 1.0
    return min(1.0, max(0.0, (value - lo) / (hi - lo)))


def fmt_num(x: float | None, digits: int = 4) -> str:
    return "-" if x is None or not np.isfinite(x) else format_number(x, digits)


def status_text(
    tokens: TraceTokens, i: int, top: tuple[int, int] | None = None, *, compact: bool = False
) -> str:
    """The cursor token's numbers: text, offsets, w, u, NLL, NLL × u (and its share);
    `compact` for a narrow panel (shorter labels, same numbers)."""
    s, e = int(tokens.starts[i]), int(tokens.ends[i])
    u = float(tokens.weight_minmax[i])
    nll = float(tokens.nll[i])
    head = f"{shown_token(tokens.text[s:e], 24 if compact else 40)}"
    parts = [
        head if compact else f"token {i + 1}/{len(tokens)} {head}",
        f"{s}–{e}" if compact else f"chars {s}–{e}",
        f"{'w' if compact else 'letter w'} {fmt_num(float(tokens.weight[i]))}",
        f"{'u' if compact else 'MinMax u'} {fmt_num(u)}",
        f"NLL {fmt_num(nll)}" + ("" if compact else " nats"),
        f"NLL×u {fmt_num(nll * u)}",
    ]
    if not np.isfinite(u):
        parts.append("excluded" if compact else "excluded (no weight)")
    if top is not None:
        parts.append(f"top {top[0] + 1}/{top[1]}" + ("" if compact else " by NLL×u"))
    share = tokens.share(i)
    if share is not None:
        parts.append(format_percent(share) + ("" if compact else " of the trace's NLL×u"))
    return " · ".join(parts)


def wrap_lines(text: str, width: int) -> list[tuple[int, int]]:
    """Character ranges [start, end) of the lines `text` wraps into at `width` cells: at
    newlines (kept at the end of their line, drawn as one cell), else after the last space
    that fits, else anywhere."""
    width = max(4, width)
    lines: list[tuple[int, int]] = []
    start = 0
    cells = 0
    last_space = -1
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        w = cell_len(glyph(char))
        # a newline never moves to a line of its own: its cell may be cut off at the edge
        if char != "\n" and cells + w > width and i > start:
            cut = last_space + 1 if last_space >= start else i
            lines.append((start, cut))
            start, cells, last_space = cut, 0, -1
            i = cut
            continue
        cells += w
        if char == "\n":
            lines.append((start, i + 1))
            start, cells, last_space = i + 1, 0, -1
        elif char == " ":
            last_space = i
        i += 1
    if start < n or not lines:
        lines.append((start, n))
    return lines
