"""What one keep rate keeps: the number cards, the exact detail line, the target benchmarks'
shares of the kept sample, and the over-targeting warning."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from engine.api.tradeoff import OVER_TARGET_SHARE, ThresholdStats
from engine.units import abbreviate, format_number, format_percent
from tui.screens.threshold.contamination import ContaminationLine
from tui.screens.threshold.duplicates import DuplicateLine
from tui.screens.threshold.format import fmt_count, fmt_exact, fmt_keep, fmt_prob, share_text
from tui.widgets.cards import CardRow, NumberCard, update_static
from tui.widgets.plots import bench_colour, share_bar

SHARE_BAR = 24  # cells of a benchmark's share bar


class KeepStats(Vertical):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._shares_rows = -1  # rows of the shares table last drawn

    def compose(self) -> ComposeResult:
        yield CardRow(
            NumberCard("threshold p(positive)", "th-threshold"),
            NumberCard("kept docs", "th-kept-docs"),
            NumberCard("kept tokens", "th-kept-tokens"),
            NumberCard("share of the pool", "th-share"),
            classes="th-cards",
        )
        yield Static("", id="th-detail", markup=False)
        degenerate = Static("", id="th-classifier-warning", classes="th-warning", markup=False)
        degenerate.display = False
        yield degenerate
        yield Static("", id="th-shares", markup=False)
        yield ContaminationLine(id="th-contamination", markup=False)
        yield DuplicateLine(id="th-duplicates", markup=False)
        yield Static("", id="th-over-warning", classes="th-warning", markup=False)
        split_warning = Static("", id="th-split-warning", classes="th-warning", markup=False)
        split_warning.display = False
        yield split_warning

    def _set(self, widget_id: str, content: Any, *, same_size: bool = False) -> None:
        update_static(self.query_one(f"#{widget_id}", Static), content, same_size=same_size)

    def show(self, s: ThresholdStats) -> None:
        """Show `tradeoff(...)`'s numbers."""
        by = s.by
        self._set("th-threshold", fmt_prob(s.threshold))
        self._set("th-kept-docs", fmt_count(s.kept_docs, "docs"))
        self._set("th-kept-tokens", fmt_count(s.kept_tokens, "tokens"))
        self._set("th-share", share_text(s))
        self._set(
            "th-detail",
            f"keep {fmt_keep(s.keep_percent)} of {by}: kept "
            f"{fmt_exact(s.kept_docs, 'docs')} of {s.total_docs:,} · "
            f"{fmt_exact(s.kept_tokens, 'tokens')} of {s.total_tokens:,} · "
            f"{format_percent(s.kept_doc_share, 4)} of docs, "
            f"{format_percent(s.kept_token_share, 4)} of tokens · p ≥ "
            f"{format_number(s.threshold, 6)}",
        )
        rows = len(s.benchmark_shares)
        self._set("th-shares", self.shares_table(s), same_size=rows == self._shares_rows)
        self._shares_rows = rows
        warning = self.query_one("#th-over-warning", Static)
        if s.over_targeted:
            names = ", ".join(s.over_targeted)
            top = s.benchmark_shares[0]
            self._set(
                "th-over-warning",
                f"⚠ over-targeting: {names} holds {format_percent(top.share)} of the kept "
                f"sample (more than {OVER_TARGET_SHARE:.0%}); the kept set leans on one "
                "benchmark",
            )
            warning.display = True
        else:
            self._set("th-over-warning", "")
            warning.display = False

    def show_classifier_warning(self, text: str) -> None:
        """The run's classifier is degenerate: its p orders nothing ("" hides the line)."""
        self._set("th-classifier-warning", f"⚠ {text}" if text else "")
        self.query_one("#th-classifier-warning", Static).display = bool(text)

    def show_split_warning(self, text: str) -> None:
        """The run's targets come from an evaluation split ("" hides the line)."""
        self._set("th-split-warning", f"⚠ {text}" if text else "")
        self.query_one("#th-split-warning", Static).display = bool(text)

    def shares_table(self, s: ThresholdStats) -> Group:
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True, min_width=14)
        table.add_column(no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        table.add_column(justify="right", style=Style(dim=True))
        for share in s.benchmark_shares:
            colour = bench_colour(self.app, share.benchmark)
            name = Text("■ ", style=Style(color=colour))
            name.append(share.benchmark)
            over = share.benchmark in s.over_targeted
            table.add_row(
                name,
                share_bar(share.share, SHARE_BAR, colour),
                Text(format_percent(share.share), style=Style(bold=over)),
                f"{share.docs:,} docs · {abbreviate(share.tokens)} tokens",
            )
        caption = Text(
            f"target share of the kept set, on the {s.sample_docs:,}-doc scored sample "
            f"({s.sample_kept_docs:,} kept)",
            style=Style(dim=True),
        )
        return Group(caption, table)
