"""What the Threshold screen's numbers look like: one formatter per kind of number.

Tests format the engine's values with these same functions and compare the texts.
"""

from __future__ import annotations

from engine.api.browse import RunIndex
from engine.api.tradeoff import ThresholdStats
from engine.units import abbreviate, format_number, format_p, format_percent

MIN_KEEP_PERCENT = 0.01


def fmt_keep(percent: float) -> str:
    return f"{format_number(percent, 4, zeros=False)}%"


def fmt_prob(p: float) -> str:
    return f"p ≥ {format_number(p, 4)}"


def fmt_count(n: float | None, unit: str) -> str:
    return "-" if n is None else f"{abbreviate(n)} {unit}"


def fmt_exact(n: float | None, unit: str) -> str:
    return "-" if n is None else f"{n:,.0f} {unit}"


def fmt_pct(x: float | None) -> str:
    """A share already in percent: 4.186 -> "4.19%"."""
    return "-" if x is None else f"{format_number(x, 3)}%"


def fmt_sci(x: float | None) -> str:
    """1.2e20 -> "1.2e20"."""
    return format_number(x, 3)


def fmt_epochs(e: float | None) -> str:
    return "-" if e is None else f"{format_number(e, 3)} epochs"


def fmt_float(x: float | None, digits: int = 3) -> str:
    return format_number(x, digits)


def fmt_p(p: float | None) -> str:
    """A p-value: "0.012", "3.2e-5"."""
    return format_p(p, 2)


def step_keep(percent: float, direction: int, fine: bool) -> float:
    """The next keep rate: 1 point (fine 0.1), or 0.1 (fine 0.01) at and below 1%."""
    small = percent < 1.0 or (percent == 1.0 and direction < 0)
    step = (0.01 if small else 0.1) if fine else (0.1 if small else 1.0)
    new = round(percent + direction * step, 6)
    return min(100.0, max(MIN_KEEP_PERCENT, new))


def other_unit(by: str) -> str:
    """The unit the keep does not count: "docs" for "tokens" and back."""
    return "docs" if by == "tokens" else "tokens"


def share_text(s: ThresholdStats) -> str:
    """The kept share of the pool in the unit the keep counts (and the other in the detail)."""
    if s.by == "docs":
        return f"{format_percent(s.kept_doc_share)} of docs"
    return f"{format_percent(s.kept_token_share)} of tokens"


def no_run_text() -> str:
    return (
        "No current run. The threshold needs an applied BETR run: score a corpus against a "
        "target set and apply the classifier (`betr score …`, `betr train`, `betr apply --run N`), then "
        "press 1 and r on the Workspace screen to make the run current."
    )


def not_applied_text(index: RunIndex) -> str:
    return (
        f"Run {index.run_id} ({index.name}) is scored but not applied: keep rates need the "
        "classifier's p(positive) for every document of the pool. Apply it "
        f"(`betr apply --run {index.run_id}`), or pick an applied run with r on the Workspace "
        "screen (1)."
    )
