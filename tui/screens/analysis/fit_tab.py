"""The Fit and Ranking tabs: the proxy -> target scatter with the fitted curve, the CV table
(fold, chosen function, train R², test MAE), the final fit and its predictions; the datasets
ranked by prediction next to the target with decision accuracy and Kendall's tau."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from engine.units import format_percent
from tui.safe_text import plain
from tui.screens.analysis.format import fmt_key, fmt_num, fmt_p, fmt_r, name
from tui.screens.analysis.tables import ExportTable
from tui.widgets.plots import plot_rgb


def side_label(side: dict[str, Any]) -> str:
    parts = [
        side.get("run") or "every dataset",
        side.get("size"),
        side["benchmark"],
        side["metric"],
    ]
    return " · ".join(name(p) for p in parts if p)


def final_text(res: dict[str, Any]) -> str:
    final = res["final"]
    params = ", ".join(f"{k} = {fmt_num(v)}" for k, v in final["params"].items())
    chosen = ", ".join(res["functions"])
    return (
        f"final fit: {final['name']}  y = {final['formula']}  ({params})  R² {fmt_num(final['r2'])}"
        f"\n{res['cv']} over {res['n']} points matched on {res['match']}: mean train R² "
        f"{fmt_num(res['train_r2'])} · mean test MAE {fmt_num(res['test_mae'])} · chosen per "
        f"fold: {chosen}"
    )


class FitTab(Vertical):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        # what the plot drew, from the points table's rows (tests compare the two)
        self.plotted: list[tuple[float, float]] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="an-fit-empty", classes="an-empty", markup=False)
        with Horizontal(id="an-fit-body"):
            yield PlotextPlot(id="an-fit-plot", classes="an-plot")
            with Vertical(id="an-fit-side"):
                yield Static("", id="an-fit-final", markup=False)
                yield ExportTable(id="an-fit-cv")
                yield ExportTable(id="an-fit-points")
        yield Static("", id="an-fit-notes", classes="an-notes", markup=False)

    def show_empty(self, text: str) -> None:
        empty = self.query_one("#an-fit-empty", Static)
        empty.update(text)
        empty.display = bool(text)
        self.query_one("#an-fit-body").display = not text
        self.query_one("#an-fit-notes").display = not text

    def show(self, res: dict[str, Any], curve: list[dict[str, Any]]) -> None:
        self.show_empty("")
        self.query_one("#an-fit-final", Static).update(final_text(res))
        cv = self.query_one("#an-fit-cv", ExportTable)
        header = ["fold", "function", "train_r2", "test_mae", "n_train", "n_test"]
        raw = [[f[k] for k in header] for f in res["folds"]]
        cv.show(
            "fit-cv",
            header,
            raw,
            [[str(v[0]), v[1], fmt_num(v[2]), fmt_num(v[3]), str(v[4]), str(v[5])] for v in raw],
        )
        cv.border_title = "cross-validation"
        pts = self.query_one("#an-fit-points", ExportTable)
        header = [res["match"], "x", "y", "prediction", "residual"]
        raw = [
            [
                p["key"],
                p["x"],
                p["y"],
                p["prediction"],
                None if p["prediction"] is None or p["y"] is None else p["y"] - p["prediction"],
            ]
            for p in res["points"]
        ]
        pts.show(
            "fit-points",
            header,
            raw,
            [
                [fmt_key(v[0]), fmt_num(v[1]), fmt_num(v[2]), fmt_num(v[3]), fmt_num(v[4])]
                for v in raw
            ],
        )
        pts.border_title = "points and predictions"
        notes = [name(n) for n in res.get("notes", [])]
        if res.get("dropped"):
            notes.append(f"{res['dropped']} row(s) with a missing value dropped")
        un = res.get("unmatched") or {}
        if un.get("x_only") or un.get("y_only"):
            notes.append(f"unmatched {res['match']}: {un['x_only']} x only, {un['y_only']} y only")
        self.query_one("#an-fit-notes", Static).update(" · ".join(notes) or "no notes")
        self.draw(res, curve)

    def draw(self, res: dict[str, Any], curve: list[dict[str, Any]]) -> None:
        plot = self.query_one("#an-fit-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        xs = [p["x"] for p in res["points"] if p["x"] is not None and p["y"] is not None]
        ys = [p["y"] for p in res["points"] if p["x"] is not None and p["y"] is not None]
        self.plotted = list(zip(xs, ys, strict=True))
        cx = [c["x"] for c in curve if c["y"] is not None]
        cy = [c["y"] for c in curve if c["y"] is not None]
        if cx:
            plt.plot(
                cx,
                cy,
                color=plot_rgb(self.app, "secondary"),
                marker="braille",
                label=f"{res['final']['name']} fit",
            )
        plt.scatter(xs, ys, color=plot_rgb(self.app, "primary"), marker="dot", label="points")
        plt.xlabel(f"x: {side_label(res['x'])}")
        plt.ylabel("y")
        plot.border_title = plain(f"y: {side_label(res['y'])} · {res['n']} points")
        plot.refresh()


class RankTab(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("", id="an-rank-empty", classes="an-empty", markup=False)
        yield Static("", id="an-rank-summary", markup=False)
        yield ExportTable(id="an-rank-table")
        yield Static("", id="an-rank-notes", classes="an-notes", markup=False)

    def show_empty(self, text: str) -> None:
        empty = self.query_one("#an-rank-empty", Static)
        empty.update(text)
        empty.display = bool(text)
        for part in ("#an-rank-summary", "#an-rank-table", "#an-rank-notes"):
            self.query_one(part).display = not text

    def show(self, res: dict[str, Any]) -> None:
        self.show_empty("")
        acc = res["decision_accuracy"]
        acc_text = format_percent(acc, missing="n/a")
        self.query_one("#an-rank-summary", Static).update(
            f"proxy  {side_label(res['x'])}\ntarget {side_label(res['y'])}\n"
            f"decision accuracy {acc_text} ({res['correct']}/{res['pairs']} pairs) · "
            f"Kendall tau-b {fmt_r(res['kendall_tau'])} (p {fmt_p(res['p_value'])}, "
            f"n {res['n']}) · target ties {res['target_ties']} (excluded) · prediction ties "
            f"{res['prediction_ties']} (counted wrong)"
            + ("" if res.get("mae") is None else f" · MAE {fmt_num(res['mae'])} (n {res['mae_n']})")
        )
        header = [
            "dataset",
            "proxy",
            "prediction",
            "rank_prediction",
            "target",
            "rank_target",
            res["match"],
        ]
        raw = [
            [
                d["dataset"],
                d["proxy"],
                d["prediction"],
                d["rank_prediction"],
                d["target"],
                d["rank_target"],
                d["x_key"],
            ]
            for d in res["datasets"]
        ]
        cells = [
            [
                name(v[0]),
                fmt_num(v[1]),
                fmt_num(v[2]),
                str(v[3]),
                fmt_num(v[4]),
                "-" if v[5] is None else str(v[5]),
                fmt_key(v[6]),
            ]
            for v in raw
        ]
        table = self.query_one("#an-rank-table", ExportTable)
        table.show("ranking", header, raw, cells)
        table.border_title = "datasets by prediction, next to the target"
        notes = [name(n) for n in res.get("notes", [])]
        self.query_one("#an-rank-notes", Static).update(" · ".join(notes))
