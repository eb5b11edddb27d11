"""The bases whose subclasses must define methods (tabs, job forms) say which are missing
when such a subclass is built, instead of failing later inside a worker."""

from __future__ import annotations

from typing import Any

import pytest

from tui.screens.job_form import JobFormScreen
from tui.screens.tab import ScreenTab
from tui.screens.workspace.import_docs import ImportDocsScreen


def test_a_job_form_without_start_job_is_refused_when_built():
    class Half(JobFormScreen):
        PREFIX = "half"

        def form(self) -> dict[str, Any]:
            return {}

    with pytest.raises(TypeError, match="Half must define start_job"):
        Half()
    ImportDocsScreen()  # a complete one builds


def test_a_tab_without_its_methods_is_refused_when_built():
    class Empty(ScreenTab[int, str]):
        def wanted(self) -> int:
            return 0

    with pytest.raises(TypeError, match="Empty must define read, show"):
        Empty()
