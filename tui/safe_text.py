"""No escape sequence from data reaches the terminal through the TUI.

Screens show data made visible with `engine.terminal.visible` (ESC as ␛) where it is read:
document text, snippets, job logs, error notifications. `ControlCharFilter` is the safety net
under everything else: a line filter, applied to every rendered line, that drops any control
character still inside a segment's text (they are zero-width to Rich, so dropping them keeps
every layout as measured).
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from engine.terminal import strip_controls, visible


class ControlCharFilter(LineFilter):
    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        out = segments
        for i, seg in enumerate(segments):
            if seg.control is None and strip_controls(seg.text) != seg.text:
                if out is segments:
                    out = list(segments)
                out[i] = Segment(strip_controls(seg.text), seg.style, seg.control)
        return out


def visible_data(value: Any) -> Any:
    """`value` with every string in it (dict values, list items) made visible."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {k: visible_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(visible_data(v) for v in value)
    return value
