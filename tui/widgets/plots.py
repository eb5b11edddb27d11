"""Colours from the theme for plots and benchmarks, and small Rich bars.

Every colour here is a theme variable resolved through `app.theme_variables`, never a fixed RGB,
so light and dark themes both read well. A benchmark keeps one colour everywhere: its name picks
a theme variable by a stable hash (the same on every screen and in every session).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.text import Text
from textual.color import Color, ColorParseError

if TYPE_CHECKING:
    from textual.app import App

# Benchmarks take their colour from these theme variables, in this order, identical colours
# (e.g. accent and warning in textual-dark) counted once.
BENCH_COLOURS = (
    "primary",
    "warning",
    "success",
    "error",
    "secondary",
    "accent",
    "text-primary",
    "text-warning",
    "text-success",
    "text-error",
    "text-secondary",
    "text-accent",
)


def bench_palette(variables: dict[str, str]) -> list[str]:
    """The theme's distinct benchmark colours."""
    palette: list[str] = []
    for name in BENCH_COLOURS:
        colour = variables.get(name)
        if colour and colour not in palette:
            palette.append(colour)
    return palette


def bench_colour_value(
    name: str, variables: dict[str, str], bench_ids: dict[str, int] | None = None
) -> str | None:
    """A benchmark's colour: picked by its id in the workspace (the first benchmarks get
    distinct colours, and a benchmark keeps its colour on every screen and in every session),
    else by a stable hash of its name (zlib.crc32)."""
    palette = bench_palette(variables)
    if not palette:
        return None
    bench_id = (bench_ids or {}).get(name)
    slot = bench_id - 1 if bench_id else zlib.crc32(name.encode("utf-8"))
    return palette[slot % len(palette)]


def theme_colour(app: App[Any], name: str, fallback: str = "foreground") -> str:
    """A theme variable's colour ("#0178D4"); the foreground when the theme lacks it."""
    variables = app.theme_variables or app.get_css_variables()
    return variables.get(name) or variables.get(fallback) or "default"


def bench_ids_of(app: App[Any]) -> dict[str, int]:
    """The workspace's benchmark ids (the App's session holds them; {} before the first poll)."""
    return getattr(getattr(app, "session", None), "bench_ids", None) or {}


def bench_colour(app: App[Any], name: str) -> str:
    """The benchmark's colour in the app's theme (see `bench_colour_value`)."""
    variables = app.theme_variables or app.get_css_variables()
    return bench_colour_value(name, variables, bench_ids_of(app)) or theme_colour(app, "foreground")


def plot_rgb(app: App[Any], name: str) -> tuple[int, int, int]:
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
