"""A horizontal bar chart drawn as text from the rows of the table beside it.

One bar per row, in the table's order, each labelled with its name and its value (formatted by
`engine.units.format_number`, as the table is), so chart and table cannot disagree: `bars` is
what is drawn and tests compare it with the table's cells. A reference value (the whole
pool's share, say) is a `│` across every bar; bars above it are drawn in the theme's primary
colour, the others muted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from engine.units import format_number
from tui.safe_text import one_line
from tui.widgets.plots import theme_colour

REFERENCE = "│"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # in the chart's unit (e.g. percent)


def bar_cells(value: float, top: float, width: int) -> float:
    """How many cells (at half-cell resolution) a bar of `value` fills on an axis 0..`top`."""
    if top <= 0 or width <= 0:
        return 0.0
    return round(min(1.0, max(0.0, value / top)) * width * 2) / 2


class BarChart(Widget):
    """`show(bars, reference, unit, caption)`; the axis runs from 0 to the largest value (or
    the reference, if larger). Bars beyond the widget's height are left to the table (the
    caption says how many)."""

    DEFAULT_CSS = """
    BarChart {
        height: auto;
    }
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.bars: list[Bar] = []
        self.reference: float | None = None
        self.unit = ""
        self.caption = ""

    def show(
        self, bars: list[Bar], reference: float | None, unit: str = "", caption: str = ""
    ) -> None:
        self.bars, self.reference, self.unit, self.caption = list(bars), reference, unit, caption
        self.refresh(layout=True)

    def value_text(self, value: float) -> str:
        return f"{format_number(value, 3)}{self.unit}"

    def render(self) -> Text:
        width = max(10, self.content_region.width or self.size.width or 40)
        if not self.bars:
            return Text(self.caption, style="dim")
        top = max([b.value for b in self.bars] + [self.reference or 0.0]) or 1.0
        label_w = min(max(cell_len(one_line(b.label)) for b in self.bars), max(6, width // 4))
        value_w = max(cell_len(self.value_text(b.value)) for b in self.bars)
        bar_w = max(4, width - label_w - value_w - 2)
        primary = Style(color=theme_colour(self.app, "primary"))
        muted = Style(color=theme_colour(self.app, "primary-muted"))
        mark = Style(color=theme_colour(self.app, "warning"), bold=True)
        ref_at = None
        if self.reference is not None:
            ref_at = min(bar_w - 1, int(bar_cells(self.reference, top, bar_w)))
        out = Text()
        for k, bar in enumerate(self.bars):
            name = one_line(bar.label)
            if cell_len(name) > label_w:
                name = set_cell_size(name, label_w - 1) + "…"
            out.append(set_cell_size(name, label_w) + " ")
            cells = bar_cells(bar.value, top, bar_w)
            full, half = int(cells), cells - int(cells) >= 0.5
            above = self.reference is None or bar.value > self.reference
            line = ["━"] * full + (["╸"] if half else [])
            line += [" "] * (bar_w - len(line))
            for i, ch in enumerate(line):
                style = (primary if above else muted) if ch != " " else Style()
                if i == ref_at:
                    ch, style = REFERENCE, mark
                out.append(ch, style=style)
            out.append(" " + self.value_text(bar.value).rjust(value_w))
            if k < len(self.bars) - 1:
                out.append("\n")
        if self.caption:
            out.append("\n")
            out.append(self.caption, style="dim")
        return out
