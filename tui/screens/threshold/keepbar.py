"""The keep-rate slider: one line of bar on a square-root scale (so 1-20% get room), ticks below.

Keys are the screen's; a click or a drag posts `KeepPicked` (messages.py) with a keep rate.
"""

from __future__ import annotations

import math
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events
from textual.reactive import reactive
from textual.widget import Widget

from tui.screens.threshold.format import MIN_KEEP_PERCENT
from tui.screens.threshold.messages import KeepPicked
from tui.widgets.plots import theme_colour


class KeepBar(Widget, can_focus=True):
    TICKS = (1, 5, 10, 25, 50, 100)
    percent: reactive[float] = reactive(10.0)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._dragging = False

    def _span(self) -> int:
        return max(10, self.size.width - 2)

    def position(self, percent: float) -> int:
        return round(math.sqrt(min(100.0, max(0.0, percent)) / 100.0) * (self._span() - 1))

    def render(self) -> Text:
        span = self._span()
        pos = self.position(self.percent)
        primary = Style(color=theme_colour(self.app, "primary"))
        marker = Style(color=theme_colour(self.app, "accent"), bold=True)
        line = Text(" ")
        line.append("━" * pos, style=primary)
        line.append("●", style=marker)
        line.append("─" * max(0, span - pos - 1), style=Style(dim=True))
        ticks = [" "] * (span + 2)
        for t in self.TICKS:
            label = f"{t}%"
            start = min(span + 2 - len(label), max(0, self.position(t) + 1 - len(label) // 2))
            if all(c == " " for c in ticks[max(0, start - 1) : start + len(label) + 1]):
                ticks[start : start + len(label)] = list(label)
        line.append("\n")
        line.append("".join(ticks), style=Style(dim=True))
        return line

    def _percent_at(self, x: int) -> float:
        frac = min(1.0, max(0.0, (x - 1) / max(1, self._span() - 1)))
        percent = frac * frac * 100.0
        percent = round(percent, 1) if percent >= 1 else round(percent, 2)
        return min(100.0, max(MIN_KEEP_PERCENT, percent))

    def on_mouse_down(self, event: events.MouseDown) -> None:
        self._dragging = True
        self.capture_mouse()
        self.post_message(KeepPicked(self._percent_at(event.x)))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._dragging:
            self.post_message(KeepPicked(self._percent_at(event.x)))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._dragging:
            self._dragging = False
            self.release_mouse()
