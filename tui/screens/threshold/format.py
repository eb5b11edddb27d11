"""What the Threshold screen's numbers look like: one formatter per kind of number.

Tests format the engine's values with these same functions and compare the texts.
"""

from __future__ import annotations

import math
from typing import Any

from engine.api.browse import RunIndex
from engine.units import abbreviate

MIN_KEEP_PERCENT = 0.01


def fmt_keep(percent: float) -> str:
    return f"{percent:.4g}%"


def fmt_prob(p: float) -> str:
    return f"p ≥ {p:.4f}"


def fmt_count(n: float | None, unit: str) -> str:
    return "-" if n is None else f"{abbreviate(n)} {unit}"


def fmt_exact(n: float | None, unit: str) -> str:
    return "-" if n is None else f"{n:,.0f} {unit}"


def fmt_pct(x: float | None) -> str:
    """A share already in percent: 4.186 -> "4.19%"."""
    return "-" if x is None else f"{x:.2f}%"


def fmt_sci(x: float | None) -> str:
    """1.2e20 -> "1.2e20"."""
    if x is None:
        return "-"
    exp = math.floor(math.log10(x))
    mant = x / 10**exp
    if round(mant, 3) >= 10:
        mant, exp = mant / 10, exp + 1
    return f"{mant:.3g}e{exp}"


def fmt_epochs(e: float | None) -> str:
    if e is None:
        return "-"
    return f"{e:,.1f} epochs" if e >= 10 else f"{e:.2f} epochs"


def fmt_float(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def fmt_p(p: float | None) -> str:
    """A p-value: "0.012", "3.20e-05"."""
    if p is None or math.isnan(p):
        return "-"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


def step_keep(percent: float, direction: int, fine: bool) -> float:
    """The next keep rate: 1 point (fine 0.1), or 0.1 (fine 0.01) at and below 1%."""
    small = percent < 1.0 or (percent == 1.0 and direction < 0)
    step = (0.01 if small else 0.1) if fine else (0.1 if small else 1.0)
    new = round(percent + direction * step, 6)
    return min(100.0, max(MIN_KEEP_PERCENT, new))


def other_unit(by: str) -> str:
    """The unit the keep does not count: "docs" for "tokens" and back."""
    return "docs" if by == "tokens" else "tokens"


def share_text(s: dict[str, Any]) -> str:
    """The kept share of the pool in the unit the keep counts (and the other in the detail)."""
    if s["by"] == "docs":
        return f"{s['kept_doc_share'] * 100:.2f}% of docs"
    return f"{s['kept_token_share'] * 100:.2f}% of tokens"


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
