"""The Fit tab: the proxy -> target scatter with the fitted curve, the CV table (fold, chosen
function, train R², test MAE), the final fit and its predictions (`analysis_fit.fit`)."""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from engine.api.analysis_fit import CrossValidation, CurvePoint, FitPoint, ProxyFit
from tui.exports import region_svg
from tui.safe_text import plain
from tui.screens.analysis.format import Format, fmt_key, fmt_num, formatted, name, side_label
from tui.screens.analysis.selection import AnalysisContext, Selection
from tui.screens.analysis.tab import AnalysisTab
from tui.screens.tab import NothingToExport
from tui.widgets.plots import plot_rgb
from tui.widgets.tables import ExportTable

CV_COLUMNS = ["fold", "function", "train_r2", "test_mae", "n_train", "n_test"]
CV_FORMATS: list[Format] = [str, str, fmt_num, fmt_num, str, str]
POINT_FORMATS: list[Format] = [fmt_key, fmt_num, fmt_num, fmt_num, fmt_num]


class Fitted(NamedTuple):
    res: ProxyFit  # `analysis_fit.fit`
    curve: list[CurvePoint]  # the final fit drawn over the points' x range


def final_text(res: CrossValidation) -> str:
    final = res.final
    params = ", ".join(f"{k} = {fmt_num(v)}" for k, v in final.params.items())
    chosen = ", ".join(str(f) for f in res.functions)
    return (
        f"final fit: {final.name}  y = {final.formula}  ({params})  R² {fmt_num(final.r2)}"
        f"\n{res.cv} over {res.n} points matched on {res.match}: mean train R² "
        f"{fmt_num(res.train_r2)} · mean test MAE {fmt_num(res.test_mae)} · chosen per "
        f"fold: {chosen}"
    )


def point_row(p: FitPoint) -> list[Any]:
    """key, x, y, prediction and the residual y - prediction (None where one is missing)."""
    return [
        p.key,
        p.x,
        p.y,
        p.prediction,
        None if p.prediction is None or p.y is None else p.y - p.prediction,
    ]


def fit_notes(res: CrossValidation) -> str:
    notes = [name(n) for n in res.notes]
    if res.dropped:
        notes.append(f"{res.dropped} row(s) with a missing value dropped")
    un = res.unmatched
    if un.x_only or un.y_only:
        notes.append(f"unmatched {res.match}: {un.x_only} x only, {un.y_only} y only")
    return " · ".join(notes) or "no notes"


class FitTab(AnalysisTab[Selection, Fitted]):
    TITLE = "Fit"
    NAME = "fit"
    LOADING = "fitting…"
    EMPTY = "#an-fit-empty"
    CONTENT: ClassVar = ("#an-fit-body", "#an-fit-notes")

    def __init__(self, context: AnalysisContext, **kwargs: Any):
        super().__init__(context, **kwargs)
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

    # -- the read ------------------------------------------------------------------------------
    def wanted(self) -> Selection:
        return self.context.sel

    def empty_note(self, key: Selection | None) -> str | None:
        return self.context.no_fit_note()

    def read(self, key: Selection) -> Fitted:
        from engine.api.analysis_fit import FitRequest, fit, fitted_curve

        res = fit(self.services.workspace, FitRequest(**key.fit_args()))
        xs = [p.x for p in res.fit.points if p.x is not None]
        return Fitted(res, fitted_curve(res.fit.final, min(xs), max(xs)) if xs else [])

    @property
    def result(self) -> ProxyFit | None:
        return None if self.answer is None else self.answer.res

    # -- drawing -------------------------------------------------------------------------------
    def show(self, answer: Fitted) -> None:
        res = answer.res.fit
        self.show_empty("")
        self.query_one("#an-fit-final", Static).update(final_text(res))
        cv = self.query_one("#an-fit-cv", ExportTable)
        raw = [[getattr(f, k) for k in CV_COLUMNS] for f in res.folds]
        cv.show("fit-cv", CV_COLUMNS, raw, formatted(raw, CV_FORMATS))
        cv.border_title = "cross-validation"
        pts = self.query_one("#an-fit-points", ExportTable)
        raw = [point_row(p) for p in res.points]
        header = [res.match, "x", "y", "prediction", "residual"]
        pts.show("fit-points", header, raw, formatted(raw, POINT_FORMATS))
        pts.border_title = "points and predictions"
        self.query_one("#an-fit-notes", Static).update(fit_notes(res))
        self.draw(answer.res, answer.curve)

    def draw(self, answer: ProxyFit, curve: list[CurvePoint]) -> None:
        plot = self.query_one("#an-fit-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        res = answer.fit
        xs = [p.x for p in res.points if p.x is not None and p.y is not None]
        ys = [p.y for p in res.points if p.x is not None and p.y is not None]
        self.plotted = list(zip(xs, ys, strict=True))
        cx = [c.x for c in curve if c.y is not None]
        cy = [c.y for c in curve if c.y is not None]
        if cx:
            fit_colour = plot_rgb(self.app, "secondary")
            label = f"{res.final.name} fit"
            plt.plot(cx, cy, color=fit_colour, marker="braille", label=label)
        plt.scatter(xs, ys, color=plot_rgb(self.app, "primary"), marker="dot", label="points")
        plt.xlabel(f"x: {side_label(answer.x)}")
        plt.ylabel("y")
        plot.border_title = plain(f"y: {side_label(answer.y)} · {res.n} points")
        plot.refresh()

    def export_svg(self) -> tuple[str, str]:
        plot = self.query_one("#an-fit-plot", PlotextPlot)
        if not plot.display or self.answer is None:
            raise NothingToExport("no plot shown on this tab")
        return "fit-plot", region_svg(self.app, plot.region, "betr fit-plot")
