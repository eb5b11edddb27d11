"""The correlation heatmap: a Line-API scroll view over one {rows, cols, r, p, n} matrix.

Colours come from a diverging scale blended from the theme: the error colour at r = -1, the
widget's background at 0, the primary colour at +1 (LEVELS steps a side). n/a cells (n < 3 or
a constant vector) are hatched in the muted text colour, never coloured. In category order the
benchmarks are grouped by category with block borders (a line naming the category above each
row group, a bar between column groups). The two header lines and the row labels stay put while
the cells scroll. Moving the cursor redraws only the old and new cursor lines and the headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.color import Color, ColorParseError
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.action_model import bindings
from tui.screens.analysis.actions import ACTIONS, HEATMAP
from tui.screens.analysis.format import name
from tui.screens.analysis.messages import HeatmapCursorMoved
from tui.widgets.plots import theme_colour

LEVELS = 10  # colour steps on each side of 0
SORTS = ("category", "alphabetical", "mean r")
HEADER = 2  # category names, column names
CURSOR = Style(reverse=True, bold=True)


@dataclass
class Grid:
    """One matrix in display order: `order_rows[i]` is the matrix row shown at position i."""

    rows: list[str]
    cols: list[str]
    r: list[list[float | None]]
    p: list[list[float | None]]
    n: list[list[int]]
    row_cats: list[str | None]
    col_cats: list[str | None]

    @classmethod
    def from_matrix(cls, m: dict[str, Any]) -> Grid:
        return cls(
            list(m["rows"]),
            list(m["cols"]),
            m["r"],
            m["p"],
            m["n"],
            list(m.get("row_categories") or [None] * len(m["rows"])),
            list(m.get("col_categories") or [None] * len(m["cols"])),
        )

    def cell(self, i: int, j: int) -> tuple[float | None, float | None, int]:
        return self.r[i][j], self.p[i][j], int(self.n[i][j])


def _mean(values: list[float | None]) -> float:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else float("-inf")


def display_order(grid: Grid, sort: str) -> tuple[list[int], list[int]]:
    """(row order, column order) for a sort: category (as the engine groups them: category,
    then name), alphabetical, or by mean r over the row (column), highest first (n/a last)."""
    rows, cols = list(range(len(grid.rows))), list(range(len(grid.cols)))
    if sort == "alphabetical":
        return sorted(rows, key=lambda i: grid.rows[i]), sorted(cols, key=lambda j: grid.cols[j])
    if sort == "mean r":
        row_mean = [_mean(grid.r[i]) for i in rows]
        col_mean = [_mean([grid.r[i][j] for i in rows]) for j in cols]
        return (
            sorted(rows, key=lambda i: (-row_mean[i], grid.rows[i])),
            sorted(cols, key=lambda j: (-col_mean[j], grid.cols[j])),
        )
    return rows, cols


def groups(cats: list[str | None], order: list[int]) -> list[tuple[str, int, int]]:
    """Runs of one category along `order`: (category, first position, end position)."""
    out: list[tuple[str, int, int]] = []
    for pos, i in enumerate(order):
        cat = cats[i] or "(none)"
        if out and out[-1][0] == cat:
            out[-1] = (cat, out[-1][1], pos + 1)
        else:
            out.append((cat, pos, pos + 1))
    return out


def item_number(order: list[int], i: int) -> int:
    """Matrix row `i`'s 1-based display position (its number in a numbered heatmap)."""
    return order.index(i) + 1


def diverging_styles(base: Color, low: Color, high: Color) -> list[Style]:
    """2 * LEVELS + 1 cell styles, r = -1 .. +1, background at 0; text in contrast."""
    colours = [base.blend(low, (LEVELS - k) / LEVELS) for k in range(LEVELS)]
    colours += [base.blend(high, k / LEVELS) for k in range(LEVELS + 1)]
    return [
        Style(bgcolor=c.rich_color, color=(c + c.get_contrast_text(0.85)).rich_color)
        for c in colours
    ]


def level(r: float) -> int:
    return max(0, min(2 * LEVELS, round((r + 1) * LEVELS)))


class Heatmap(ScrollView, can_focus=True):
    # the cell cursor's keys (tui/screens/analysis/actions.py)
    BINDINGS: ClassVar = bindings(ACTIONS, HEATMAP)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.grid: Grid | None = None
        self.sort = SORTS[0]
        self.row_order: list[int] = []
        self.col_order: list[int] = []
        self.cursor = (0, 0)  # display positions (row, col)
        self.styles_scale: list[Style] = []
        self.na_style = Style(dim=True)
        self.cell_w = 6
        self.label_w = 12
        self._lines: list[int | str] = []  # body lines: a display row, or a category name
        self._col_x: list[int] = []  # x of each display column in the body
        self._seps: set[int] = set()  # x of the bars between column groups
        self._cache: dict[int, Strip] = {}
        self._body_w = 0
        # column names longer than a cell: rows are numbered and each column header is its
        # benchmark's row number (the cursor line spells both names out), never a cut name
        self.numbered = False
        self._col_numbers: list[str] = []

    # -- data ----------------------------------------------------------------------------------
    def show(self, matrix: dict[str, Any] | None) -> None:
        self.grid = Grid.from_matrix(matrix) if matrix else None
        self.cursor = (0, 0)
        self.relayout()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.post_message(HeatmapCursorMoved())

    def set_sort(self, sort: str) -> None:
        """Another order; the cursor stays on the same benchmark pair."""
        cell = self.cursor_cell()
        self.sort = sort
        self.relayout()
        if cell is not None:
            self.cursor = (self.row_order.index(cell[0]), self.col_order.index(cell[1]))
        self.refresh()
        self.post_message(HeatmapCursorMoved())

    def cursor_cell(self) -> tuple[int, int] | None:
        """The matrix (row, col) under the cursor."""
        if self.grid is None or not self.row_order or not self.col_order:
            return None
        return self.row_order[self.cursor[0]], self.col_order[self.cursor[1]]

    # -- layout --------------------------------------------------------------------------------
    def relayout(self) -> None:
        self._cache.clear()
        grid = self.grid
        if grid is None:
            self.row_order, self.col_order, self._lines, self._col_x = [], [], [], []
            self.virtual_size = Size(0, 0)
            self.refresh()
            return
        self.row_order, self.col_order = display_order(grid, self.sort)
        blocks = self.sort == "category"
        width = self.scrollable_content_region.width or 120
        self.label_w = min(22, max(8, *(len(name(b)) + 1 for b in grid.rows)))
        n_groups = len(groups(grid.col_cats, self.col_order)) if blocks else 1
        room = max(1, width - self.label_w - 1 - n_groups)
        longest = max(len(name(c)) for c in grid.cols)
        if max(6, longest + 1) * len(grid.cols) <= room:  # room for every name, whole
            self.cell_w = max(6, longest + 1)
        else:
            self.cell_w = next((w for w in (6, 4, 3) if w * len(grid.cols) <= room), 2)
        self.numbered = longest > self.cell_w - 1
        row_number = {grid.rows[i]: pos + 1 for pos, i in enumerate(self.row_order)}
        self._col_numbers = [str(row_number.get(grid.cols[j], "?")) for j in self.col_order]
        if self.numbered:
            self.label_w = min(26, self.label_w + len(str(len(grid.rows))) + 1)
        self._lines, self._col_x, self._seps = [], [], set()
        for cat, start, end in groups(grid.row_cats, self.row_order) if blocks else [("", 0, 0)]:
            if blocks:
                self._lines.append(cat)
                self._lines.extend(range(start, end))
        if not blocks:
            self._lines = list(range(len(self.row_order)))
        x = 0
        col_groups = groups(grid.col_cats, self.col_order) if blocks else []
        starts = {start for _c, start, _e in col_groups[1:]}
        for pos in range(len(self.col_order)):
            if pos in starts:
                self._seps.add(x)
                x += 1
            self._col_x.append(x)
            x += self.cell_w
        self._body_w = x
        self.virtual_size = Size(self.label_w + 1 + x, HEADER + len(self._lines))
        self.refresh()

    def on_resize(self, _event: events.Resize) -> None:
        self.relayout()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.styles_scale = []
        self._cache.clear()

    def _restyle(self) -> None:
        base = self.background_colors[1]
        if base.a == 0:
            base = Color.parse(theme_colour(self.app, "background", "surface"))
        try:
            low = Color.parse(theme_colour(self.app, "error"))
            high = Color.parse(theme_colour(self.app, "primary"))
            muted = Color.parse(theme_colour(self.app, "text-muted", "foreground"))
        except ColorParseError:
            low, high, muted = Color(200, 0, 0), Color(0, 120, 215), Color(128, 128, 128)
        self.styles_scale = diverging_styles(base, low, high)
        self.na_style = Style(color=muted.rich_color)

    def scale_swatches(self, steps: int = 9) -> list[tuple[str, Style]]:
        """The legend: (label, style) from -1 to +1."""
        if not self.styles_scale:
            self._restyle()
        out = []
        for k in range(steps):
            r = -1 + 2 * k / (steps - 1)
            out.append((f"{r:+.1f}" if k % 2 == 0 else "", self.styles_scale[level(r)]))
        return out

    # -- drawing -------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if self.grid is None:
            return Strip.blank(width, self.rich_style)
        if not self.styles_scale:
            self._restyle()
        sx = int(self.scroll_x)
        if y < HEADER:
            label = Strip([Segment(" " * (self.label_w + 1), self.rich_style)])
            body = self._header_line(y)
        else:
            li = y - HEADER + int(self.scroll_y)
            if li >= len(self._lines):
                return Strip.blank(width, self.rich_style)
            strip = self._cache.get(li)
            if strip is None:
                strip = self._cache[li] = self._body_line(li)
            cut = self.label_w + 1
            label, body = strip.crop(0, cut), strip.crop(cut, strip.cell_length)
        body = body.crop(sx, sx + max(0, width - self.label_w - 1))
        return Strip.join([label, body]).adjust_cell_length(width, self.rich_style)

    def _header_line(self, y: int) -> Strip:
        assert self.grid is not None
        grid, base = self.grid, self.rich_style
        chars = [" "] * self._body_w
        styles: list[Style] = [base] * self._body_w
        if y == 0 and self.sort == "category":
            for cat, start, end in groups(grid.col_cats, self.col_order):
                x0 = self._col_x[start]
                span = self._col_x[end - 1] + self.cell_w - x0
                text = name(cat)[:span].ljust(span, " ")
                chars[x0 : x0 + span] = list(text)
                styles[x0 : x0 + span] = [base + Style(bold=True, underline=True)] * span
        elif y == 1:
            for pos, j in enumerate(self.col_order):
                x0 = self._col_x[pos]
                label = self._col_numbers[pos] if self.numbered else name(grid.cols[j])
                if self.numbered:
                    label = label.rjust(self.cell_w - 1)
                text = label[: self.cell_w - 1].ljust(self.cell_w)
                chars[x0 : x0 + self.cell_w] = list(text)
                st = base + (CURSOR if pos == self.cursor[1] else Style(dim=True))
                styles[x0 : x0 + self.cell_w - 1] = [st] * (self.cell_w - 1)
        for x in self._seps:
            chars[x] = "│" if y == 1 else " "
        return Strip([Segment(c, s) for c, s in zip(chars, styles, strict=True)]).simplify()

    def _body_line(self, li: int) -> Strip:
        assert self.grid is not None
        grid, base = self.grid, self.rich_style
        item = self._lines[li]
        if isinstance(item, str):  # a category's block border
            label = f"{name(item)} "[: self.label_w].ljust(self.label_w + 1, "─")
            bar = ["─"] * self._body_w
            for x in self._seps:
                bar[x] = "┼"
            return Strip([Segment(label + "".join(bar), base + Style(dim=True))])
        i = self.row_order[item]
        label_style = base + (CURSOR if item == self.cursor[0] else Style())
        shown = name(grid.rows[i])
        if self.numbered:
            digits = len(str(len(grid.rows)))
            shown = f"{item_number(self.row_order, i):>{digits}} {shown}"
        segs = [
            Segment(shown[: self.label_w].ljust(self.label_w), label_style),
            Segment("│", base + Style(dim=True)),
        ]
        x = 0
        for pos, j in enumerate(self.col_order):
            if self._col_x[pos] != x:
                segs.append(Segment("│", base + Style(dim=True)))
                x += 1
            r = grid.r[i][j]
            w = self.cell_w
            if r is None:
                text, style = ("╱" * (w - 1) + " ", self.na_style)
            else:
                text = f"{r:+.2f}"[: w - 1] if w >= 6 else f"{round(abs(r) * 100):>{w - 1}d}"
                text = (text if w >= 3 else "").rjust(w - 1) + " "
                style = self.styles_scale[level(r)]
            if (item, pos) == self.cursor:
                style = style + CURSOR
            segs.append(Segment(text[:w].ljust(w), style))
            x += w
        return Strip(segs)

    def all_strips(self) -> list[Strip]:
        """Every line, unscrolled (the SVG export)."""
        width = self.label_w + 1 + self._body_w
        lines = []
        for y in range(HEADER):
            label = Strip([Segment(" " * (self.label_w + 1), self.rich_style)])
            lines.append(Strip.join([label, self._header_line(y)]))
        lines += [self._body_line(li) for li in range(len(self._lines))]
        return [s.adjust_cell_length(width, self.rich_style) for s in lines]

    # -- the cursor ----------------------------------------------------------------------------
    def _line_of_row(self, pos: int) -> int:
        return self._lines.index(pos)

    def move_to(self, row: int, col: int) -> None:
        if self.grid is None or not self.row_order:
            return
        row = max(0, min(len(self.row_order) - 1, row))
        col = max(0, min(len(self.col_order) - 1, col))
        old = self.cursor
        if (row, col) == old:
            return
        self.cursor = (row, col)
        for pos in {old[0], row}:
            self._cache.pop(self._line_of_row(pos), None)
        self._scroll_to_cursor()
        self.refresh_lines(0, HEADER)
        for pos in {old[0], row}:
            self.refresh_lines(HEADER + self._line_of_row(pos) - int(self.scroll_y), 1)
        self.post_message(HeatmapCursorMoved())

    def _scroll_to_cursor(self) -> None:
        region = self.scrollable_content_region
        line = self._line_of_row(self.cursor[0])
        rows_shown = max(1, region.height - HEADER)
        sy, sx = int(self.scroll_y), int(self.scroll_x)
        if line < sy + 1:  # keep the category line above the first row in view
            sy = max(0, line - 1)
        elif line >= sy + rows_shown:
            sy = line - rows_shown + 1
        cols_shown = max(1, region.width - self.label_w - 1)
        x0 = self._col_x[self.cursor[1]]
        if x0 < sx:
            sx = x0
        elif x0 + self.cell_w > sx + cols_shown:
            sx = x0 + self.cell_w - cols_shown
        if (sx, sy) != (int(self.scroll_x), int(self.scroll_y)):
            self.scroll_to(sx, sy, animate=False, immediate=True)
            self.refresh()

    def action_move(self, drow: int, dcol: int) -> None:
        self.move_to(self.cursor[0] + drow, self.cursor[1] + dcol)

    def action_corner(self, last: int) -> None:
        big = 10**6
        self.move_to(big * last, big * last)
