"""The two plots under the keep bar: p(positive) over the pool (kept bins bright, a line at the
threshold) and the keep curve (kept tokens % against kept docs %, the diagonal for reference).

Drawing them costs ~45 ms, more than a key repeat: they redraw once the keep rests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.timer import Timer
from textual_plotext import PlotextPlot

from engine.api.tradeoff import ThresholdStats
from tui.widgets.plots import plot_rgb

PLOT_DELAY_S = 0.25  # the plots redraw once the keep rests this long
# border titles (long, short): the short ones where a plot is narrower than the long title
TITLES = {
    "th-hist": ("p(positive) over the pool: kept bright", "p(positive): kept bright"),
    "th-curve": ("kept tokens % vs docs % (diagonal: even)", "kept tokens % vs docs %"),
}


class KeepPlots(Horizontal):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.hist: tuple[np.ndarray, np.ndarray] | None = None  # (counts, bin edges)
        self.curve: tuple[np.ndarray, np.ndarray] | None = None  # (docs %, tokens %)
        self._timer: Timer | None = None
        self._drawn = False

    def compose(self) -> ComposeResult:
        yield PlotextPlot(id="th-hist")
        yield PlotextPlot(id="th-curve")

    def on_resize(self) -> None:
        each = self.size.width // 2  # the two plots share the width
        for plot in self.query(PlotextPlot):
            long, short = TITLES[plot.id or ""]
            plot.border_title = long if each >= len(long) + 6 else short
            # drawn again at the new size: a line above that grows once its numbers arrive
            # (the duplicates line) must not leave a plot drawn for the old height
            plot.refresh(layout=True)

    def set_run(self, hist: Any, curve: Any) -> None:
        """A new run's histogram and keep curve: its plots are drawn at once."""
        self.hist, self.curve = hist, curve
        self._drawn = False

    def show_later(self, stats: ThresholdStats) -> None:
        """Redraw once the keep stops moving for a moment (the numbers are already shown)."""
        if self._timer is not None:
            self._timer.stop()
        if not self._drawn:
            self._drawn = True
            self.show(stats)
            return
        self._timer = self.set_timer(PLOT_DELAY_S, lambda: self.show(stats))

    def show(self, s: ThresholdStats) -> None:
        kept_rgb = plot_rgb(self.app, "primary")
        line_rgb = plot_rgb(self.app, "warning")
        dim_rgb = plot_rgb(self.app, "primary-muted")
        ref_rgb = plot_rgb(self.app, "secondary")
        if self.hist is not None:
            widget = self.query_one("#th-hist", PlotextPlot)
            plt = widget.plt
            plt.clear_figure()
            counts, edges = self.hist
            centres = (edges[:-1] + edges[1:]) / 2
            kept = edges[1:] > s.threshold
            for mask, colour in ((~kept, dim_rgb), (kept, kept_rgb)):
                if mask.any():
                    plt.bar(centres[mask].tolist(), counts[mask].tolist(), color=colour, width=0.8)
            plt.vline(s.threshold, color=line_rgb)
            plt.xlim(0, 1)
            plt.xticks([0, 0.25, 0.5, 0.75, 1])
            plt.xlabel(f"p(positive); line at {s.threshold:.4f}")
            widget.refresh()
        if self.curve is not None:
            widget = self.query_one("#th-curve", PlotextPlot)
            plt = widget.plt
            plt.clear_figure()
            x, y = self.curve
            x0 = s.kept_doc_share * 100
            y0 = s.kept_token_share * 100
            plt.plot([0, 100], [0, 100], color=ref_rgb, marker="braille")
            plt.plot(x.tolist(), y.tolist(), color=kept_rgb, marker="braille")
            plt.vline(x0, color=line_rgb)
            plt.hline(y0, color=line_rgb)
            plt.xlim(0, 100)
            plt.ylim(0, 100)
            plt.xticks([0, 25, 50, 75, 100])
            # three y ticks: on a plot a few rows high five would share rows, and which label
            # plotext keeps for a shared row changes from one process to the next
            plt.yticks([0, 50, 100])
            plt.xlabel(f"% of docs kept; now {x0:.3g}% docs, {y0:.3g}% tokens")
            widget.refresh()
