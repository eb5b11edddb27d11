"""The per-token view: a trace's reasoning text, each token's span coloured by its value.

`TokenView` is a Line-API scroll view: the text is wrapped once per width, each token's style
is computed once per trace and colouring (a 33-step sequential scale blended from the widget's
background to a theme colour), and drawn lines are cached; moving the cursor redraws only the
lines of the old and the new cursor token. `TokenPanel` adds the legend above it and the status
line (the cursor token's numbers) below it.
"""

from __future__ import annotations

import bisect
from typing import Any, ClassVar

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.color import Color, ColorParseError
from textual.containers import Vertical
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from tui.action_model import bindings
from tui.safe_text import plain
from tui.screens.rbridge.actions import ACTIONS, TOKEN_VIEW
from tui.screens.rbridge.messages import TokenCursorMoved
from tui.screens.rbridge.tokens import (
    COLOURING_ORDER,
    COLOURINGS,
    TraceTokens,
    fmt_num,
    glyph,
    scale_position,
    status_text,
    value_range,
    wrap_lines,
)
from tui.widgets.plots import theme_colour

LEVELS = 32  # steps of the colour scale
FLOOR = 0.12  # the lowest value still gets this much colour: scored tokens stand out from gaps
SWATCHES = 8
COMPACT_BELOW = 90  # cells: a narrower panel gets the short status line
CURSOR = Style(reverse=True, bold=True)
EXCLUDED = Style(dim=True)
GAP = Style(dim=True, italic=True)


def scale_colours(base: Color, high: Color) -> list[Color]:
    """LEVELS + 1 background colours from just above `base` to `high`."""
    return [base.blend(high, FLOOR + (1 - FLOOR) * k / LEVELS) for k in range(LEVELS + 1)]


def scale_styles(colours: list[Color]) -> list[Style]:
    return [
        Style(bgcolor=c.rich_color, color=(c + c.get_contrast_text(0.9)).rich_color)
        for c in colours
    ]


class TokenView(ScrollView, can_focus=True):
    # the token cursor's keys (tui/screens/rbridge/actions.py)
    BINDINGS: ClassVar = bindings(ACTIONS, TOKEN_VIEW)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.tokens: TraceTokens | None = None
        self.colouring = COLOURING_ORDER[0]
        self.cursor = 0
        self._char_token = np.zeros(0, dtype=np.int32)
        self._lines: list[tuple[int, int]] = []
        self._line_starts: list[int] = []
        self._wrapped_at = -1
        self._styles: list[Style] = []
        self._scale: list[Style] = []
        self._cache: dict[int, Strip] = {}

    # -- what is shown -------------------------------------------------------------------------
    def show(self, tokens: TraceTokens | None) -> None:
        self.tokens = tokens
        self.cursor = 0
        self._char_token = tokens.char_token() if tokens is not None else np.zeros(0, np.int32)
        self._wrapped_at = -1
        self._restyle()
        self.rewrap()
        self.scroll_to(y=0, animate=False, immediate=True)
        if tokens is not None and len(tokens):
            self.post_message(TokenCursorMoved(0))

    def set_colouring(self, colouring: str) -> None:
        self.colouring = colouring
        self._restyle()
        self._cache.clear()
        self.refresh()

    def legend_range(self) -> tuple[float, float] | None:
        """(min, max) of the coloured tokens' values: those with a weight."""
        if self.tokens is None:
            return None
        values = self.tokens.values(self.colouring)
        return value_range(values[np.isfinite(self.tokens.weight_minmax)])

    def _restyle(self) -> None:
        """Every token's style for the current trace, colouring and theme (once)."""
        base = self.background_colors[1]
        if base.a == 0:
            base = Color.parse(theme_colour(self.app, "background", "surface"))
        try:
            high = Color.parse(theme_colour(self.app, COLOURINGS[self.colouring][2]))
        except ColorParseError:
            high = Color.parse(theme_colour(self.app, "foreground", "text"))
        self._scale = scale_styles(scale_colours(base, high))
        self._styles = []
        if self.tokens is None:
            return
        values = self.tokens.values(self.colouring)
        finite = np.isfinite(self.tokens.weight_minmax) & np.isfinite(values)
        rng = self.legend_range()
        for i, v in enumerate(values.tolist()):
            if not finite[i] or rng is None:
                self._styles.append(EXCLUDED)
            else:
                self._styles.append(self._scale[round(scale_position(v, *rng) * LEVELS)])

    def scale_swatches(self, n: int = SWATCHES) -> Text:
        """`n` cells of the scale, low to high (the legend)."""
        out = Text()
        for k in range(n):
            out.append("  ", style=Style(bgcolor=self._scale[round(k * LEVELS / (n - 1))].bgcolor))
        return out

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted:  # a theme change: the scale follows it
            self._restyle()
        self._cache.clear()

    # -- layout --------------------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        self.rewrap()

    def rewrap(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0:
            return
        if width != self._wrapped_at:
            self._wrapped_at = width
            self._lines = wrap_lines(self.tokens.text, width) if self.tokens else []
            self._line_starts = [s for s, _e in self._lines]
        self._cache.clear()
        self.virtual_size = Size(width, len(self._lines))
        self.refresh()

    def line_of(self, char: int) -> int:
        return max(0, bisect.bisect_right(self._line_starts, char) - 1)

    def token_lines(self, i: int) -> range:
        t = self.tokens
        if t is None or not 0 <= i < len(t):
            return range(0)
        first = self.line_of(int(t.starts[i]))
        last = self.line_of(max(int(t.starts[i]), int(t.ends[i]) - 1))
        return range(first, last + 1)

    # -- drawing -------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        li = round(self.scroll_y) + y
        if self.tokens is None or li >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        strip = self._cache.get(li)
        if strip is None or strip.cell_length != width:
            strip = self._cache[li] = self._draw_line(li, width)
        return strip

    def _draw_line(self, li: int, width: int) -> Strip:
        assert self.tokens is not None
        base = self.rich_style
        text, owner = self.tokens.text, self._char_token
        start, end = self._lines[li]
        segments = []
        i = start
        while i < end:
            tok = int(owner[i])
            j = i + 1
            while j < end and owner[j] == tok:
                j += 1
            style = base + (self._styles[tok] if tok >= 0 else GAP)
            if tok >= 0 and tok == self.cursor:
                style += CURSOR
            segments.append(Segment("".join(glyph(c) for c in text[i:j]), style))
            i = j
        return Strip(segments).extend_cell_length(width, base).crop(0, width)

    # -- the cursor ----------------------------------------------------------------------------
    def move_cursor(self, i: int) -> None:
        t = self.tokens
        if t is None or not len(t):
            return
        i = max(0, min(i, len(t) - 1))
        old = self.cursor
        self.cursor = i
        for li in (*self.token_lines(old), *self.token_lines(i)):
            self._cache.pop(li, None)
            self.refresh_lines(li)
        self.scroll_cursor_into_view()
        self.post_message(TokenCursorMoved(i))

    def scroll_cursor_into_view(self) -> None:
        lines = self.token_lines(self.cursor)
        if not lines:
            return
        top, height = round(self.scroll_y), max(1, self.scrollable_content_region.height)
        if lines.start < top:
            self.scroll_to(y=lines.start, animate=False, immediate=True)
        elif lines.start >= top + height:
            self.scroll_to(y=lines.start - height + 1, animate=False, immediate=True)

    def action_move(self, delta: int) -> None:
        self.move_cursor(self.cursor + delta)

    def action_move_to(self, i: int) -> None:
        if self.tokens is not None:
            self.move_cursor(i if i >= 0 else len(self.tokens) - 1)

    def action_move_line(self, delta: int) -> None:
        """The token at the same column one line up or down (the nearest one on that line)."""
        t = self.tokens
        lines = self.token_lines(self.cursor)
        if t is None or not lines:
            return
        here = lines.start if delta < 0 else lines.stop - 1
        target = here + delta
        if not 0 <= target < len(self._lines):
            return
        column = int(t.starts[self.cursor]) - self._lines[lines.start][0]
        s, e = self._lines[target]
        owners = self._char_token[s:e]
        hits = np.flatnonzero(owners >= 0)
        if not len(hits):
            self.move_cursor(self.cursor + delta)
            return
        nearest = hits[np.argmin(np.abs(hits - column))]
        self.move_cursor(int(owners[nearest]))


class TokenPanel(Vertical):
    """Legend, token view and the status line of the cursor token."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.top: list[int] = []
        self.top_at = -1

    def compose(self) -> ComposeResult:
        yield Static("", id="rb-legend", markup=False)
        yield TokenView(id="rb-tokens")
        yield Static("", id="rb-token-status", markup=False)

    @property
    def view(self) -> TokenView:
        return self.query_one(TokenView)

    @property
    def colouring(self) -> str:
        return self.view.colouring

    def show(self, tokens: TraceTokens | None, title: str = "") -> None:
        self.top = tokens.top_tokens() if tokens is not None else []
        self.top_at = -1
        self.border_title = plain(title, lines=False)
        self.view.show(tokens)
        self.show_legend()
        status = self.query_one("#rb-token-status", Static)
        if tokens is None or not len(tokens):
            status.update("no per-token rows for this trace" if tokens is not None else "")
        else:  # this trace's first token at once, never the previous trace's cursor token
            status.update(status_text(tokens, 0, None, compact=self.size.width < COMPACT_BELOW))

    def show_loading(self, what: str) -> None:
        """A trace is being read: nothing of the previous one stays on the status line."""
        self.query_one("#rb-token-status", Static).update(f"reading {what}…")

    def cycle_colouring(self) -> str:
        at = COLOURING_ORDER.index(self.view.colouring)
        self.view.set_colouring(COLOURING_ORDER[(at + 1) % len(COLOURING_ORDER)])
        self.show_legend()
        return self.view.colouring

    def show_legend(self) -> None:
        title, short, _colour = COLOURINGS[self.view.colouring]
        self.border_subtitle = f"colour: {title} · c cycles"
        rng = self.view.legend_range()
        legend = Text(f"{short}  ", style="bold")
        if self.view.tokens is None:
            legend = Text("")
        elif rng is None:
            legend.append("no values", style="dim")
        else:
            legend.append(f"{fmt_num(rng[0])} ")
            legend.append_text(self.view.scale_swatches())
            legend.append(f" {fmt_num(rng[1])}")
            legend.append("   dim: excluded (no weight)", style="dim")
        self.query_one("#rb-legend", Static).update(legend)

    def jump_top(self, step: int) -> bool:
        if not self.top:
            return False
        self.top_at = (self.top_at + step) % len(self.top)
        self.view.move_cursor(self.top[self.top_at])
        self.view.focus()
        return True

    @on(TokenCursorMoved)
    def cursor_moved(self, message: TokenCursorMoved) -> None:
        tokens = self.view.tokens
        if tokens is None or not len(tokens):
            return
        i = message.index
        top = None
        if self.top and 0 <= self.top_at < len(self.top) and self.top[self.top_at] == i:
            top = (self.top_at, len(self.top))
        compact = self.size.width < COMPACT_BELOW
        self.query_one("#rb-token-status", Static).update(
            status_text(tokens, i, top, compact=compact)
        )
