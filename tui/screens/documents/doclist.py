"""The ranked document list: a Line-API scroll view over a browse `View` of any length.

Rows are fetched in blocks (`page` in a thread worker, through the loader the screen hands in)
only when they come into view; until a block lands its rows show as "…". Rendered lines are
kept in an LRU keyed by (row, width, cursor, theme), so scrolling back costs nothing.

The columns are the fixed ones and those chosen for the corpus (`set_columns`; how each is
drawn: tui/screens/documents/columns.py). A click on a column's title asks the screen to sort
by it (`HeaderClicked`). Under a search the text column shows the text around the hit, the hit
highlighted (Rich styles on plain segments: data never becomes markup).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypedDict

from rich.segment import Segment
from rich.style import Style
from textual import events, work
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.api.browse import DocRow, RunIndex, View
from engine.api.columns import parse_sort
from engine.errors import BetrError
from engine.units import format_number
from tui.action_model import bindings
from tui.safe_text import one_line
from tui.screens.documents.actions import ACTIONS, DOC_LIST
from tui.screens.documents.columns import NOT_SORTABLE, TEXT, fit, kwic_window, layout, look
from tui.screens.documents.messages import HeaderClicked, RowHighlighted, RowsLoaded
from tui.widgets.plots import bench_colour_value, bench_ids_of
from tui.workers import WorkersReportToApp

BLOCK = 200  # rows per fetch
LINE_CACHE = 2000


Loader = Callable[[int, int], list[DocRow]]
ThemeKey = tuple[str, bool, int]  # (theme, focused, id of the benchmark ids): what looks follow
# a drawn line's cache key: (generation, row, width, cursor on it, row loaded, ThemeKey)
LineKey = tuple[int, int, int, bool, bool, ThemeKey]
DEFAULT_COLUMNS = ["prob", "score", "tokens", "source", "benchmark"]


class Looks(TypedDict):
    """The row styles for one theme and focus (`DocList._looks`)."""

    base: Style
    pending: Style
    dropped: Style
    cursor: Style
    contaminated: Style
    hit: Style
    variables: dict[str, str]
    bench_ids: dict[str, int]


def bench_style(
    name: str | None, variables: dict[str, str], bench_ids: dict[str, int] | None = None
) -> Style:
    if not name:
        return Style(dim=True)
    colour = bench_colour_value(name, variables, bench_ids)
    return Style(color=colour) if colour else Style()


def row_detail(row: DocRow | None) -> str:
    """Everything about the cursor row that a narrow list leaves out: its source (whole), best
    benchmark, p(positive), BETR score and tokens, exactly."""
    if row is None:
        return ""
    parts = [f"rank {row.rank:,}", f"doc {one_line(row.ext_id)}", f"p {format_number(row.prob, 6)}"]
    if row.score is not None:
        parts.append(f"BETR {format_number(row.score, 4)} ({row.benchmark or '-'})")
    parts.append(f"{row.n_tokens:,} tokens")
    parts.append(f"source {one_line(row.source)}")
    return " · ".join(parts)


class DocList(WorkersReportToApp, ScrollView, can_focus=True):
    """The rows of one view; `set_view` swaps the view in once it is ready (old rows stay
    until then). The cursor is a display row; Enter is the screen's (open the viewer)."""

    # the cursor's keys (tui/screens/documents/actions.py)
    BINDINGS: ClassVar = bindings(ACTIONS, DOC_LIST)
    COMPONENT_CLASSES: ClassVar = {
        "doclist--header",
        "doclist--cursor",
        "doclist--dropped",
        "doclist--pending",
    }
    DEFAULT_CSS = """
    DocList {
        background: $surface;
    }
    DocList > .doclist--header {
        text-style: bold;
        color: $text-muted;
    }
    DocList > .doclist--cursor {
        background: $block-cursor-blurred-background;
    }
    DocList:focus > .doclist--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    DocList > .doclist--dropped {
        color: $text-muted;
        text-style: dim;
    }
    DocList > .doclist--pending {
        color: $text-muted;
    }
    """

    def __init__(self, *, id: str | None = None):
        super().__init__(id=id)
        self.index: RunIndex | None = None
        self.view: View | None = None
        self.loader: Loader | None = None
        self.generation = 0
        self.cursor = 0
        self.rows: dict[int, DocRow] = {}
        self._blocks: set[int] = set()  # blocks loaded for this generation
        self._in_flight: set[int] = set()
        self._failed: set[int] = set()
        self._wanted: set[int] = set()
        self._lines: LRUCache[LineKey, Strip] = LRUCache(LINE_CACHE)
        self._looks_cache: tuple[ThemeKey, Looks] | None = None
        self.columns: list[str] = list(DEFAULT_COLUMNS)  # chosen columns, after rank and marks
        self._layouts: dict[int, list[tuple[str, int, bool]]] = {}  # line width -> columns

    # -- the view ------------------------------------------------------------------------------
    def set_view(
        self,
        index: RunIndex,
        view: View,
        loader: Loader,
        cursor: int = 0,
        first_block: list[DocRow] | None = None,
    ) -> None:
        """Show a new view (rows are fetched as they come into sight); cursor to `cursor`.
        `first_block`: the view's first BLOCK rows, read ahead of time (the app's warm-up)."""
        same_run = self.index is not None and self.index.run_id == index.run_id
        self.index, self.view, self.loader = index, view, loader
        self.generation += 1
        self.rows = {}
        self._blocks.clear()
        self._in_flight.clear()
        self._failed.clear()
        self._lines.clear()
        self.virtual_size = Size(self.size.width, len(view) + 1)
        self.cursor = max(0, min(cursor, len(view) - 1))
        self.scroll_to(y=0 if not same_run else self.scroll_y, animate=False, immediate=True)
        self.scroll_cursor_into_view()
        if first_block is not None:
            self.rows = {row.row: row for row in first_block}
            self._blocks.add(0)
        # ask for the rows in sight now, not after the first paint of placeholders
        top = max(0, self.cursor - self.page_rows)
        for row in range(top, min(len(view), top + 2 * self.page_rows + 1), BLOCK // 2):
            self._want(row)
        self._fetch_wanted()
        self.refresh()
        self.post_message(RowHighlighted(self.cursor))

    def set_columns(self, names: list[str]) -> None:
        """Show these columns (after rank and the markers); rows are fetched again with
        their values."""
        self.columns = list(names)
        self._layouts.clear()
        self.reload()

    def reload(self) -> None:
        """Fetch the rows again (labels changed); the old rows stay on screen until then."""
        self.generation += 1
        self._blocks.clear()
        self._in_flight.clear()
        self._failed.clear()
        self._lines.clear()
        self.refresh()

    def clear(self) -> None:
        self.index = self.view = self.loader = None
        self.generation += 1
        self.rows = {}
        self._blocks.clear()
        self._lines.clear()
        self.virtual_size = Size(self.size.width, 0)
        self.refresh()

    def __len__(self) -> int:
        return len(self.view) if self.view is not None else 0

    def row_at(self, row: int) -> DocRow | None:
        """The fetched row at display row `row` (None until its block lands)."""
        return self.rows.get(row)

    def doc_id_at(self, row: int) -> int | None:
        if self.view is None or self.index is None or not 0 <= row < len(self.view):
            return None
        return int(self.index.doc_id[self.view.rows[row]])

    def line_text(self, row: int) -> str:
        """What display row `row` shows, as plain text (for tests and the screen)."""
        return self._row_strip(row, max(self.size.width, 80)).text

    # -- fetching ------------------------------------------------------------------------------
    def _want(self, row: int) -> None:
        block = row // BLOCK
        if block in self._blocks or block in self._in_flight or block in self._failed:
            return
        if not self._wanted:
            self.call_later(self._fetch_wanted)
        self._wanted.add(block)

    def _fetch_wanted(self) -> None:
        for block in sorted(self._wanted):
            if block not in self._in_flight and self.loader is not None:
                self._in_flight.add(block)
                self.fetch_block(self.loader, self.generation, block)
        self._wanted.clear()

    @work(thread=True, exit_on_error=False, group="documents-rows")
    def fetch_block(self, loader: Loader, generation: int, block: int) -> None:
        try:
            rows = loader(block * BLOCK, BLOCK)
        except BaseException:
            self.app.call_from_thread(self._block_failed, generation, block)
            raise
        self.app.call_from_thread(self._block_landed, generation, block, rows)

    def _block_failed(self, generation: int, block: int) -> None:
        if generation == self.generation:
            self._in_flight.discard(block)
            self._failed.add(block)

    def _block_landed(self, generation: int, block: int, rows: list[DocRow]) -> None:
        if generation != self.generation:
            return
        self._in_flight.discard(block)
        self._blocks.add(block)
        start = block * BLOCK
        for r in range(start, start + BLOCK):
            self.rows.pop(r, None)
        for row in rows:
            self.rows[row.row] = row
        self._lines.clear()
        self.refresh()
        self.post_message(RowsLoaded(start))

    # -- rendering -----------------------------------------------------------------------------
    def _theme_key(self) -> ThemeKey:
        return (self.app.theme, self.has_focus, id(bench_ids_of(self.app)))

    def _looks(self) -> Looks:
        """The row styles for the current theme and focus, resolved once (resolving component
        styles per line would cost more than drawing it)."""
        key = self._theme_key()
        if self._looks_cache is None or self._looks_cache[0] != key:
            base = self.rich_style
            looks: Looks = {
                "base": base,
                "pending": base + self.get_component_rich_style("doclist--pending"),
                "dropped": base + self.get_component_rich_style("doclist--dropped"),
                "cursor": self.get_component_rich_style("doclist--cursor"),
                "contaminated": Style(color=self.app.theme_variables.get("error"), bold=True),
                "hit": Style(reverse=True, bold=True),
                "variables": dict(self.app.theme_variables),
                "bench_ids": dict(bench_ids_of(self.app)),
            }
            self._looks_cache = (key, looks)
        return self._looks_cache[1]

    def _layout(self, width: int) -> list[tuple[str, int, bool]]:
        """(column, width, right-aligned) of each column shown, the text last."""
        found = self._layouts.get(width)
        if found is None:
            found = self._layouts[width] = layout(self.columns, width)
        return found

    def _join(self, cells: dict[str, list[Segment]], base: Style, width: int) -> Strip:
        """One line from each shown column's segments (cut or padded to its width)."""
        segments: list[Segment] = []
        for name, w, right in self._layout(width):
            parts = cells.get(name) or [Segment("", base)]
            if len(parts) == 1:
                text, style = parts[0].text, parts[0].style
                segments.append(Segment(fit(text, w, right), style))
            else:
                segments.extend(Strip(parts).crop(0, w).adjust_cell_length(w, base))
            segments.append(Segment(" ", base))
        return Strip(segments).adjust_cell_length(width, base)

    def _header_strip(self, width: int) -> Strip:
        style = self.get_component_rich_style("doclist--header")
        cells = {name: [Segment(self._title(name), style)] for name, _w, _r in self._layout(width)}
        return self._join(cells, style, width)

    def _title(self, name: str) -> str:
        if name == TEXT:
            return "text"
        title = look(name).title
        if self.view is not None and title:
            try:
                sort, descending = parse_sort(self.view.query.sort)
            except BetrError:
                return title
            if sort.name == name:
                title += " ↓" if descending else " ↑"
        return title

    def column_at(self, x: int) -> str | None:
        """The column under cell `x` of the header line."""
        at = 0
        for name, w, _right in self._layout(self.scrollable_content_region.width):
            if at <= x < at + w + 1:
                return name
            at += w + 1
        return None

    def _text_segments(self, doc: DocRow, style: Style, hit: Style, width: int) -> list[Segment]:
        """The text column: the snippet, or under a search the hit's context with each hit
        in `hit`'s style."""
        text = one_line(doc.snippet)
        if not doc.hits:
            return [Segment(text, style)]
        shown, cut = kwic_window(doc.snippet, doc.hits, width)
        shown = one_line(shown)
        out, at = [], 0
        for a, b in doc.hits:
            a, b = a - cut, b - cut
            if a < 1 and cut:  # the hit was cut off at the start
                continue
            if a > at:
                out.append(Segment(shown[at:a], style))
            out.append(Segment(shown[a:b], style + hit))
            at = b
        out.append(Segment(shown[at:], style))
        return [s for s in out if s.text]

    def _row_strip(self, row: int, width: int) -> Strip:
        cursor = row == self.cursor
        doc = self.rows.get(row)
        key = (self.generation, row, width, cursor, doc is not None, self._theme_key())
        if self.view is not None and 0 <= row < len(self.view):
            self._want(row)
        cached = self._lines.get(key)
        if cached is not None:
            return cached
        looks = self._looks()
        cells: dict[str, list[Segment]] = {}
        if doc is None:
            style = looks["pending"]
            cells["rank"] = [Segment("…", style)]
        else:
            style = looks["dropped"] if doc.kept is False else looks["base"]
            for name, _w, _right in self._layout(width):
                if name == TEXT:
                    text_width = self._layout(width)[-1][1]
                    cells[name] = self._text_segments(doc, style, looks["hit"], text_width)
                    continue
                cell_style = style
                if name == "benchmark":
                    cell_style = style + bench_style(
                        doc.benchmark, looks["variables"], looks["bench_ids"]
                    )
                elif name == "marks" and doc.contaminated:
                    cell_style = style + looks["contaminated"]
                cells[name] = [Segment(look(name).cell(doc), cell_style)]
        if cursor:
            cells = {
                n: [Segment(s.text, (s.style or style) + looks["cursor"]) for s in parts]
                for n, parts in cells.items()
            }
            style = style + looks["cursor"]
        strip = self._join(cells, style, width)
        self._lines[key] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header_strip(width)
        row = round(self.scroll_y) + y - 1
        if self.view is None or row >= len(self.view):
            return Strip.blank(width, self.rich_style)
        return self._row_strip(row, width)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()
        self._looks_cache = None

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self) + 1)

    def _on_focus(self, event: events.Focus) -> None:
        self.refresh()

    def _on_blur(self, event: events.Blur) -> None:
        self.refresh()

    # -- the cursor ----------------------------------------------------------------------------
    @property
    def page_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def move_cursor(self, row: int) -> None:
        if not len(self):
            return
        row = max(0, min(row, len(self) - 1))
        if row == self.cursor:
            return
        self.cursor = row
        self.scroll_cursor_into_view()
        self.refresh()
        self.post_message(RowHighlighted(row))

    def scroll_cursor_into_view(self) -> None:
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + self.page_rows:
            self.scroll_to(y=self.cursor - self.page_rows + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor - self.page_rows)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor + self.page_rows)

    def action_cursor_top(self) -> None:
        self.move_cursor(0)

    def action_cursor_bottom(self) -> None:
        self.move_cursor(len(self) - 1)

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.move_cursor(round(self.scroll_y) + event.y - 1)
            return
        name = self.column_at(event.x)
        if name is not None and name not in NOT_SORTABLE:
            self.post_message(HeaderClicked(name))
