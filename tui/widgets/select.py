"""`PlainSelect`: a Select whose option labels are data (run, benchmark and proxy names), shown
verbatim: a Select parses a plain `str` label as markup (a DCLM run name with `[...]` crashed
the Analysis screen with a MarkupError); this one passes every label through
`tui.safe_text.plain`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from textual.widgets import Select

from tui.safe_text import plain_options

V = TypeVar("V")


class PlainSelect(Select[V], Generic[V]):
    def __init__(self, options: Iterable[tuple[Any, V]], **kwargs: Any):
        super().__init__(plain_options(options), **kwargs)

    def set_options(self, options: Iterable[tuple[Any, V]]) -> None:
        super().set_options(plain_options(options))
