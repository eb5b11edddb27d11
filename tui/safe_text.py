"""Data is text: the one way a string from data or from the user reaches a widget.

Names, ids, paths, sources, metadata, document text, benchmark items, run and metric names and
error messages that quote them can hold anything: `[bold]`, `[/]`, `[@click=app.quit]`, `\\[`,
or an escape sequence. Textual parses a plain `str` as content markup almost everywhere (a
`Static`, a `Label`, `DataTable` cells and column labels, `Select` options, border titles,
notifications), so such a string would be restyled, lose characters, run an action or crash
the app with a MarkupError. `plain` turns any value into a Rich `Text`, which no widget parses:
it shows exactly the characters of the value, with control characters made visible
(`engine.terminal.visible`: ESC as ␛). Every widget that shows data gets it through `plain` (or
a `Text` built from pieces that went through it); the App's `notify` never parses markup; tables
(`KeyedTable`, `ExportTable`) pass their string cells through `plain` themselves.

`ControlCharFilter` is the safety net under everything else: a line filter, applied to every
rendered line, that drops any control character still inside a segment's text (they are
zero-width to Rich, so dropping them keeps every layout as measured).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields, is_dataclass, replace
from typing import Any, TypeVar

from rich.segment import Segment
from rich.style import StyleType
from rich.text import Text
from textual.color import Color
from textual.filter import LineFilter

from engine.terminal import strip_controls, visible

V = TypeVar("V")


def one_line(value: Any) -> str:
    """A value as a string on one line with control characters made visible; for composing a
    longer text that then goes through `plain` (or a plot label, which is never markup)."""
    return visible(str(value), lines=False)


def plain(value: Any, style: StyleType = "", *, lines: bool = True, justify: Any = None) -> Text:
    """`value` as a Text that every widget shows verbatim: never parsed as markup, control
    characters made visible (`lines=False`: newlines and tabs too). A Text is returned as is."""
    if isinstance(value, Text):
        return value
    return Text(visible(str(value), lines=lines), style=style, justify=justify, end="")


def plain_cell(value: Any) -> Any:
    """A table cell: a string becomes `plain` text; Rich renderables are kept as they are."""
    return plain(value, lines=False) if isinstance(value, str) else value


def plain_options(options: Iterable[tuple[Any, V]]) -> list[tuple[Text, V]]:
    """A Select's (label, value) options with every label as plain text."""
    return [(plain(label, lines=False), value) for label, value in options]


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
    """`value` with every string in it (dict values, list items, dataclass fields) made
    visible."""
    if isinstance(value, str):
        return visible(value)
    if is_dataclass(value) and not isinstance(value, type):
        return replace(
            value, **{f.name: visible_data(getattr(value, f.name)) for f in fields(value)}
        )
    if isinstance(value, dict):
        return {k: visible_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(visible_data(v) for v in value)
    return value
