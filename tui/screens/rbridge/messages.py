"""What the rBridge screen's workers and widgets tell it. Each read's answer carries the
selection it was read for, so the screen drops one the user has left."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from engine.api.rbridge import TraceScore
from engine.api.rbridge_views import ProxyScore, RbridgeOverview
from tui.screens.rbridge.tokens import TraceTokens


@dataclass
class OverviewRead(Message):
    """`rbridge_views.overview`: benchmarks with traces, proxies, scored pairs, corpora."""

    overview: RbridgeOverview


@dataclass
class ScoresRead(Message):
    """`rbridge_views.proxy_scores`: every proxy's scores on `benchmark`."""

    benchmark: str
    rows: list[ProxyScore]


@dataclass
class TracesRead(Message):
    """`rbridge.trace_list` of score `score_id`."""

    score_id: int
    rows: list[TraceScore]


@dataclass
class TokensRead(Message):
    """One trace's tokens, as scored by score `score_id`."""

    score_id: int
    trace_id: int
    tokens: TraceTokens


@dataclass
class ScorePlanned(Message):
    """`S`: the score of `proxy` on `benchmark` is `score_id`, cached or computed by job
    `job_id` (None: cached, no job)."""

    score_id: int
    job_id: int | None
    proxy: str
    benchmark: str


@dataclass
class ProxyPicked(Message):
    """A row of the proxy table was picked (clicked or entered)."""

    proxy: str


@dataclass
class TokenCursorMoved(Message):
    """The token view's cursor is on token `index`."""

    index: int
