"""What the Analysis screen's workers and widgets tell it (each tab's own answer is the Tab
base's `Answered`, tui/screens/tab.py)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from engine.api.analysis_views import AnalysisOverview
from engine.errors import BetrError


@dataclass
class OverviewRead(Message):
    """`analysis_views.overview`, or the error that stopped it; `open_demo`: open the tabs on
    the demo experiment's results; `experiment`: the newest demo experiment with a verdict."""

    open_demo: bool
    view: AnalysisOverview | None = None
    error: BetrError | None = None
    experiment: int | None = None


@dataclass
class DemoAlreadyRan(Message):
    """The demo experiment asked for ran before: job `job_id` holds its results."""

    job_id: int


@dataclass
class DemoStarted(Message):
    """The demo experiment runs as job `job_id` (started, resumed, or running already)."""

    job_id: int


class HeatmapCursorMoved(Message):
    """The heatmap's cell cursor moved (the cell under it is spelled out below it)."""
