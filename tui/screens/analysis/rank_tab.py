"""The Ranking tab: the datasets ranked by the proxy's prediction next to the target, with
decision accuracy and Kendall's tau (`analysis_fit.rank`)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.widgets import Static

from engine.api.analysis_fit import Ranking
from engine.units import format_percent
from tui.screens.analysis.format import (
    Format,
    fmt_key,
    fmt_num,
    fmt_p,
    fmt_r,
    fmt_rank,
    formatted,
    name,
    side_label,
)
from tui.screens.analysis.selection import Selection
from tui.screens.analysis.tab import AnalysisTab
from tui.screens.tab import NothingToExport
from tui.widgets.tables import ExportTable

DATASET_KEYS = ["dataset", "proxy", "prediction", "rank_prediction", "target", "rank_target"]
DATASET_FORMATS: list[Format] = [name, fmt_num, fmt_num, str, fmt_num, fmt_rank, fmt_key]


def summary_text(res: Ranking) -> str:
    acc_text = format_percent(res.decision_accuracy, missing="n/a")
    mae = "" if res.mae is None else f" · MAE {fmt_num(res.mae)} (n {res.mae_n})"
    return (
        f"proxy  {side_label(res.x)}\ntarget {side_label(res.y)}\n"
        f"decision accuracy {acc_text} ({res.correct}/{res.pairs} pairs) · "
        f"Kendall tau-b {fmt_r(res.kendall_tau)} (p {fmt_p(res.p_value)}, "
        f"n {res.n}) · target ties {res.target_ties} (excluded) · prediction ties "
        f"{res.prediction_ties} (counted wrong)" + mae
    )


class RankTab(AnalysisTab[Selection, Ranking]):
    TITLE = "Ranking"
    NAME = "rank"
    LOADING = "ranking the datasets…"
    EMPTY = "#an-rank-empty"
    CONTENT: ClassVar = ("#an-rank-summary", "#an-rank-table", "#an-rank-notes")

    def compose(self) -> ComposeResult:
        yield Static("", id="an-rank-empty", classes="an-empty", markup=False)
        yield Static("", id="an-rank-summary", markup=False)
        yield ExportTable(id="an-rank-table")
        yield Static("", id="an-rank-notes", classes="an-notes", markup=False)

    def wanted(self) -> Selection:
        return self.context.sel

    def read(self, key: Selection) -> Ranking:
        from engine.api.analysis_fit import RankRequest, rank

        return rank(self.services.workspace, RankRequest(**key.rank_args()))

    def show(self, answer: Ranking) -> None:
        res = answer
        self.show_empty("")
        self.query_one("#an-rank-summary", Static).update(summary_text(res))
        raw = [[getattr(d, k) for k in DATASET_KEYS] + [d.x_key] for d in res.datasets]
        table = self.query_one("#an-rank-table", ExportTable)
        table.show("ranking", [*DATASET_KEYS, res.match], raw, formatted(raw, DATASET_FORMATS))
        table.border_title = "datasets by prediction, next to the target"
        notes = [name(n) for n in res.notes]
        self.query_one("#an-rank-notes", Static).update(" · ".join(notes))

    def export_svg(self) -> tuple[str, str]:
        raise NothingToExport("the Ranking tab has no plot: e exports its table")
