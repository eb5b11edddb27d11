"""Colours from the theme for plots and benchmarks, and small Rich bars.

Every colour here is a theme variable resolved through `app.theme_variables`, never a fixed RGB,
so light and dark themes both read well. A benchmark keeps one colour everywhere: its name picks
a theme variable by a stable hash (the same on every screen and in every session).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual.color import Color, ColorParseError

if TYPE_CHECKING:
    from textual.app import App

BENCH_VARIABLES = ("primary", "secondary", "accent", "success", "warning", "error")


def theme_colour(app: App, name: str, fallback: str = "foreground") -> str:
    """A theme variable's colour ("#0178D4"); the foreground when the theme lacks it."""
    variables = app.theme_variables or app.get_css_variables()
    return variables.get(name) or variables.get(fallback) or "default"


def bench_colour(app: App, name: str) -> str:
    """The benchmark's stable colour: one of the theme's accent variables, picked by a hash of
    its name (zlib.crc32, the same in every process)."""
    try:  # the Documents list's mapping, so a benchmark has one colour on every screen
        from tui.widgets.doclist import bench_colour_name
    except ImportError:
        key = BENCH_VARIABLES[zlib.crc32(name.encode("utf-8")) % len(BENCH_VARIABLES)]
    else:
        key = bench_colour_name(name)
    return theme_colour(app, key)


def plot_rgb(app: App, name: str) -> tuple[int, int, int]:
    """A theme variable as the (r, g, b) tuple plotext takes."""
    try:
        return Color.parse(theme_colour(app, name)).rgb
    except ColorParseError:  # a value plotext cannot take: use the foreground
        return Color.parse(theme_colour(app, "foreground", "text")).rgb


def share_bar(fraction: float, width: int, colour: str, rest: Style | None = None) -> Text:
    """A horizontal bar at half-cell resolution: "━━━━━━╸───"."""
    fraction = min(1.0, max(0.0, fraction))
    filled = round(fraction * width * 2)
    full, half = divmod(filled, 2)
    bar = Text("━" * full, style=Style(color=colour))
    if half:
        bar.append("╸", style=Style(color=colour))
    bar.append("─" * (width - full - half), style=rest or Style(dim=True))
    return bar
