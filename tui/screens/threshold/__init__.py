"""Screen 4, Threshold, as a package of small widgets.

`screen` (the keep rate and the tabs), `keepbar` (the slider), `stats` (the numbers of one keep
rate), `plots`, `compute` (the budget and the compute law), `by_source` (the kept share per
source), `agreement` and `compare` (the other two tabs), `format` (how every number reads; tests
format the engine's values with it).
"""

from tui.screens.threshold.format import (
    MIN_KEEP_PERCENT,
    fmt_count,
    fmt_epochs,
    fmt_exact,
    fmt_float,
    fmt_keep,
    fmt_p,
    fmt_pct,
    fmt_prob,
    fmt_sci,
    share_text,
    step_keep,
)
from tui.screens.threshold.keepbar import KeepBar
from tui.screens.threshold.screen import ThresholdScreen

__all__ = [
    "MIN_KEEP_PERCENT",
    "KeepBar",
    "ThresholdScreen",
    "fmt_count",
    "fmt_epochs",
    "fmt_exact",
    "fmt_float",
    "fmt_keep",
    "fmt_p",
    "fmt_pct",
    "fmt_prob",
    "fmt_sci",
    "share_text",
    "step_keep",
]
