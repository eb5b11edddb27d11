"""Table cells as Rich Text, coloured from the current theme's variables (never fixed RGB)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text

from engine.units import abbreviate

BAR_WIDTH = 20
Cells = tuple[str | Text, ...]  # one table row's cells, in column order


@dataclass(frozen=True)
class ThemeStyles:
    """Rich styles resolved from the theme's CSS variables; rebuilt when the theme changes."""

    states: dict[str, Style]
    bar: dict[str, Style]
    bar_rest: Style
    muted: Style

    @classmethod
    def from_variables(cls, variables: dict[str, str]) -> ThemeStyles:
        def colour(name: str) -> Style:
            return Style(color=variables.get(name))

        muted = Style(dim=True)
        return cls(
            states={
                "queued": muted,
                "running": colour("text-primary") + Style(bold=True),
                "done": colour("text-success"),
                "failed": colour("text-error") + Style(bold=True),
                "cancelled": colour("text-warning"),
                "interrupted": colour("text-warning") + Style(bold=True),
                "importing": colour("text-primary"),
                "ready": colour("text-success"),
            },
            bar={
                "running": colour("primary"),
                "done": colour("success"),
                "failed": colour("error"),
                "cancelled": colour("warning"),
                "interrupted": colour("warning"),
                "queued": muted,
            },
            bar_rest=muted,
            muted=muted,
        )


def state_cell(state: str, styles: ThemeStyles, note: str = "") -> Text:
    text = Text(state, style=styles.states.get(state, Style()))
    if note:
        text.append(f" {note}", style=styles.muted)
    return text


def progress_cell(
    fraction: float | None, state: str, styles: ThemeStyles, width: int = BAR_WIDTH
) -> Text:
    """A text progress bar plus the percentage: "━━━━━━━━━━━━╺━━━━━━━  62%"."""
    if fraction is None:
        return Text("─" * width + "    …", style=styles.muted)
    filled = round(fraction * width * 2)  # half-cell resolution
    full, half = divmod(filled, 2)
    bar = Text("━" * full, style=styles.bar.get(state, styles.bar["running"]))
    if half:
        bar.append("╸", style=styles.bar.get(state, styles.bar["running"]))
    bar.append("━" * (width - full - half), style=styles.bar_rest)
    bar.append(f" {fraction * 100:3.0f}%")
    return bar


def count_cell(done: int, total: int | None, unit: str) -> str:
    """ "12.4k / 20.0k docs" (exact numbers are in the detail pane)."""
    return f"{abbreviate(done)} / {abbreviate(total)} {unit}"


def exact_count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def format_time(ts: float | None) -> str:
    """Local wall-clock time of an epoch timestamp, "-" when unset."""
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def flag_warning_lines(text: str, colour: str | None) -> Text:
    """`text` as plain Text, every line that starts with ⚠ bold in `colour` (the theme's
    text-warning), so a warning stands out of a muted info line."""
    shown = Text(text)
    start = 0
    for line in text.split("\n"):
        if line.startswith("⚠"):
            shown.stylize(Style(color=colour, bold=True), start, start + len(line))
        start += len(line) + 1
    return shown
