"""How the Analysis screen's numbers and texts read (tests format the engine's values with
these)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine.api.analysis_fit import FitSide
from engine.units import format_number, format_p
from tui.safe_text import one_line

NA = "n/a"
NO_RESULTS = (  # {formats}: the result formats' registry, read when shown (no_results)
    "No evaluation results in this workspace yet. Import some:\n"
    "  betr results import PATH... --format {formats}\n"
    "or, in the demo workspace, press x (twice) to run the demo experiment "
    "(betr demo experiment): tiny proxies on three selections at two sizes, ~8 minutes on 2 cores."
)


def no_results() -> str:
    """NO_RESULTS with the result formats' names (the engine's registry, imported when shown)."""
    from engine.api.results import format_names

    return NO_RESULTS.format(formats=format_names())


NO_ITEMS = (
    "No per-item results to calibrate. Import lm-eval samples_*.jsonl files\n"
    "  betr results import PATH --format lm-eval\n"
    "or evaluate a proxy on multiple choice (betr proxy eval)."
)


def name(value: Any) -> str:
    """Data text made visible on one line (no escape sequence reaches the terminal)."""
    return one_line(value)


def fmt_r(r: float | None) -> str:
    """A correlation, signed: "+0.812" ("n/a" when undefined)."""
    return format_number(r, 3, missing=NA, signed=True)


def fmt_p(p: float | None) -> str:
    return format_p(p, 2, missing=NA)


def fmt_num(v: float | None, digits: int = 4) -> str:
    return format_number(v, digits, missing=NA)


def fmt_key(v: Any) -> str:
    """A tokens or step value (1000000000 -> 1.0B) with the exact value elsewhere."""
    from engine.units import abbreviate

    return "-" if v is None else abbreviate(int(v))


def na_reason(n: int) -> str:
    return f"fewer than 3 runs (n = {n})" if n < 3 else "a constant vector"


def fmt_rank(v: int | None) -> str:
    return "-" if v is None else str(v)


Format = Callable[[Any], Any]  # a raw value -> the cell drawn


def formatted(raw: Sequence[Sequence[Any]], formats: Sequence[Format]) -> list[list[Any]]:
    """The cells drawn for `raw` rows: column k of each row through `formats[k]`."""
    return [[fmt(v) for fmt, v in zip(formats, row, strict=True)] for row in raw]


def side_label(side: FitSide) -> str:
    """ "data-a · 150M · arc-easy · acc": a fit's side (run, size, benchmark, metric)."""
    parts = [side.run or "every dataset", side.size, side.benchmark, side.metric]
    return " · ".join(name(p) for p in parts if p)
