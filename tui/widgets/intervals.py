"""Numbers with their confidence intervals drawn as text: a point with its error bar, or a bar
from a reference value (0 for a difference) with its error bar.

One row per `IntervalRow`, in groups (a title line above each group's rows), on one shared
axis, so rows of different groups compare by position. Each row reads: label, the track, then
the number and its interval as text (formatted by `engine.units.format_number`, as the table
beside the chart is), so the drawing and the table cannot disagree: `rows` is what is drawn and
tests compare it with the table's cells.

On the track, `├───●───┤` is the interval with the point; in `bars` mode a `━` bar runs from
the reference to the point, drawn in the theme's primary colour when its interval excludes the
reference (the difference is distinguishable from noise) and muted when it does not. The
reference is a `│` across every row, and the axis line below names both ends and the reference.
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
POINT = "●"


@dataclass(frozen=True)
class IntervalRow:
    label: str
    value: float
    ci_low: float | None  # None: no interval (too few items): the point alone
    ci_high: float | None
    group: str = ""  # rows of one group sit under its title, in the order given

    @property
    def excludes(self) -> bool:
        """Whether the interval excludes 0 (a difference distinguishable from noise)."""
        return (
            self.ci_low is not None
            and self.ci_high is not None
            and (self.ci_low > 0 or self.ci_high < 0)
        )


def axis_range(rows: list[IntervalRow], reference: float | None) -> tuple[float, float]:
    """The axis: every point and interval end (and the reference), with 4% room each side."""
    ends = [v for r in rows for v in (r.value, r.ci_low, r.ci_high) if v is not None]
    if reference is not None:
        ends.append(reference)
    lo, hi = min(ends), max(ends)
    pad = (hi - lo) * 0.04 or abs(hi) * 0.01 or 1.0
    return lo - pad, hi + pad


def cell_of(x: float, lo: float, hi: float, width: int) -> int:
    """The cell (0..width-1) of value `x` on an axis lo..hi drawn over `width` cells."""
    if hi <= lo or width <= 1:
        return 0
    return min(width - 1, max(0, round((x - lo) / (hi - lo) * (width - 1))))


def track(
    row: IntervalRow, lo: float, hi: float, width: int, reference: float | None, bars: bool
) -> list[tuple[str, str]]:
    """The track of one row: (character, role) per cell, role one of "", "bar", "whisker",
    "point", "reference" (what colours it)."""
    cells: list[tuple[str, str]] = [(" ", "")] * width
    at = cell_of(row.value, lo, hi, width)
    ref = None if reference is None else cell_of(reference, lo, hi, width)
    if bars and ref is not None:
        for i in range(min(ref, at), max(ref, at) + 1):
            cells[i] = ("━", "bar")
    if row.ci_low is not None and row.ci_high is not None:
        a, b = cell_of(row.ci_low, lo, hi, width), cell_of(row.ci_high, lo, hi, width)
        for i in range(a, b + 1):
            if cells[i][1] != "bar":
                cells[i] = ("─", "whisker")
        cells[a] = ("├", "whisker")
        cells[b] = ("┤", "whisker") if b != a else ("┼", "whisker")
    if ref is not None and cells[ref][1] in ("", "whisker") and ref != at:
        cells[ref] = (REFERENCE, "reference")
    cells[at] = (POINT, "point")
    return cells


def value_text(row: IntervalRow, signed: bool) -> str:
    """ "+0.0124 (0.0031..0.0217)": the number and its interval, as the table prints them."""
    value = format_number(row.value, 4, signed=signed)
    if row.ci_low is None or row.ci_high is None:
        return f"{value} (no interval)"
    low = format_number(row.ci_low, 4, signed=signed)
    high = format_number(row.ci_high, 4, signed=signed)
    return f"{value} ({low}..{high})"


class IntervalChart(Widget):
    """`show(rows, reference=None, bars=False, signed=False, caption="")`. `bars`: each row a
    bar from the reference (a paired difference from 0); otherwise a point with its interval
    (a selection's number)."""

    DEFAULT_CSS = """
    IntervalChart {
        height: auto;
    }
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.rows: list[IntervalRow] = []
        self.reference: float | None = None
        self.bars = False
        self.signed = False
        self.caption = ""

    def show(
        self,
        rows: list[IntervalRow],
        *,
        reference: float | None = None,
        bars: bool = False,
        signed: bool = False,
        caption: str = "",
    ) -> None:
        self.rows, self.reference, self.bars = list(rows), reference, bars
        self.signed, self.caption = signed, caption
        self.refresh(layout=True)

    def render(self) -> Text:
        width = max(20, self.content_region.width or self.size.width or 60)
        if not self.rows:
            return Text(self.caption, style="dim")
        lo, hi = axis_range(self.rows, self.reference)
        label_w = min(max(cell_len(one_line(r.label)) for r in self.rows), max(6, width // 4))
        texts = [value_text(r, self.signed) for r in self.rows]
        text_w = min(max(cell_len(t) for t in texts), max(8, width * 9 // 20))
        track_w = max(8, width - label_w - text_w - 4)
        styles = {
            "": Style(),
            "bar": Style(color=theme_colour(self.app, "primary")),
            "muted": Style(color=theme_colour(self.app, "primary-muted")),
            "whisker": Style(color=theme_colour(self.app, "foreground")),
            "point": Style(color=theme_colour(self.app, "accent"), bold=True),
            "reference": Style(color=theme_colour(self.app, "warning"), bold=True),
        }
        out = Text()
        group = None
        for row, text in zip(self.rows, texts, strict=True):
            if row.group != group:
                group = row.group
                if group:
                    out.append(set_cell_size(one_line(group), width) + "\n", style="bold")
            name = one_line(row.label)
            if cell_len(name) > label_w:
                name = set_cell_size(name, label_w - 1) + "…"
            out.append("  " + set_cell_size(name, label_w) + " ")
            strong = not self.bars or row.excludes
            for ch, role in track(row, lo, hi, track_w, self.reference, self.bars):
                style = styles["muted" if role == "bar" and not strong else role]
                out.append(ch, style=style)
            out.append(" " + set_cell_size(text, text_w) + "\n")
        out.append(self.axis_line(lo, hi, label_w, track_w), style="dim")
        if self.caption:
            out.append("\n" + self.caption, style="dim")
        return out

    def axis_line(self, lo: float, hi: float, label_w: int, track_w: int) -> str:
        """The axis under the tracks: its two ends (and the reference) as numbers."""
        left = format_number(lo, 3, signed=self.signed)
        right = format_number(hi, 3, signed=self.signed)
        line = [" "] * track_w
        if self.reference is not None:
            ref = format_number(self.reference, 3)
            at = cell_of(self.reference, lo, hi, track_w)
            start = min(max(0, at - len(ref) // 2), track_w - len(ref))
            if start > len(left) and start + len(ref) < track_w - len(right):
                line[start : start + len(ref)] = ref
        line[: len(left)] = left
        line[track_w - len(right) :] = right
        return " " * (label_w + 3) + "".join(line)[:track_w]
