"""What the Analysis tabs share: the screen's context (overview and selection) they compute
their key from, and the prefix of their exports (exports/analysis-*.csv, *.svg)."""

from __future__ import annotations

from typing import Any, ClassVar, Generic

from tui.screens.analysis.selection import AnalysisContext
from tui.screens.tab import Answer, Key, ScreenTab


class AnalysisTab(ScreenTab[Key, Answer], Generic[Key, Answer]):
    EXPORT_PREFIX: ClassVar[str] = "analysis"

    def __init__(self, context: AnalysisContext, **kwargs: Any):
        super().__init__(**kwargs)
        self.context = context
