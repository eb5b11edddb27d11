"""The Analysis screen's actions (scope "analysis") and the heatmap's (scope "heatmap": its cell
cursor, active while it has the focus), gathered by the screen registry into `tui.actions`
(keys, command palette, help). The selectors at the top are Selects (tab to them).
"""

from __future__ import annotations

from tui.action_model import Action

SCOPE = "analysis"
HEATMAP = "heatmap"

ACTIONS: tuple[Action, ...] = (
    Action(
        "analysis_next_tab",
        "Analysis: next tab (Experiment, Fit, Ranking, Calibration, Correlations)",
        "t",
        SCOPE,
        "cycle the tabs; a click on a tab opens it",
        "Tab",
    ),
    Action(
        "analysis_next_benchmark",
        "Analysis: next target benchmark",
        "b",
        SCOPE,
        "cycle the target benchmark (the select at the top does the same)",
        "Bench",
    ),
    Action(
        "corr_next_protocol",
        "Analysis: next correlation protocol (matrix, cross-stage, coherence, align)",
        "o",
        SCOPE,
        "the heatmap, the cross-stage transfer table with tiers, coherence, alignment",
        "Protocol",
    ),
    Action(
        "corr_next_matrix",
        "Analysis: next correlation matrix (each side, then across: PT-PT, SFT-SFT, PT->SFT)",
        "n",
        SCOPE,
        "cycle the matrices of the matrix protocol",
    ),
    Action(
        "corr_sort",
        "Analysis: sort the heatmap (category, alphabetical, mean r)",
        "s",
        SCOPE,
        "cycle the order of the heatmap's benchmarks; the cursor stays on its pair",
        "Sort",
    ),
    Action(
        "analysis_method",
        "Analysis: switch Pearson / Spearman",
        "m",
        SCOPE,
        "the correlation method of the Correlations tab",
    ),
    Action(
        "analysis_match",
        "Analysis: match the fit's points on tokens or step",
        "a",
        SCOPE,
        "how proxy and target checkpoints pair up (Fit and Ranking)",
    ),
    Action(
        "experiment_metric",
        "Analysis: the demo experiment's next metric (bpb, rbridge, acc)",
        "v",
        SCOPE,
        "the Experiment tab: which metric the selections and their differences are drawn in",
    ),
    Action(
        "experiment_size",
        "Analysis: the demo experiment's next proxy size",
        "z",
        SCOPE,
        "the Experiment tab: which proxy size the selections and their differences are drawn at",
    ),
    Action(
        "calibration_next",
        "Analysis: next run and benchmark with per-item results (Calibration)",
        "c",
        SCOPE,
        "cycle the (run, benchmark) pairs whose items the Calibration tab reads",
    ),
    Action(
        "analysis_export_csv",
        "Analysis: export the table in focus as CSV",
        "e",
        SCOPE,
        "write the focused table (or the tab's main one, the heatmap's cells) to exports/*.csv",
        "Export",
    ),
    Action(
        "analysis_export_svg",
        "Analysis: export the plot of this tab as SVG",
        "p",
        SCOPE,
        "write the tab's plot (the whole heatmap on Correlations) to exports/*.svg",
        "SVG",
    ),
    Action(
        "demo_experiment",
        "Analysis: run the demo experiment (job, ~8 min on 2 cores)",
        "x",
        SCOPE,
        "press twice: tiny proxies on top/random/bottom selections at two sizes; opens the tabs",
        "Demo exp",
    ),
    # -- the heatmap's cell cursor -----------------------------------------------------------
    Action(
        "heatmap_left",
        "heatmap: cell to the left",
        "left,h",
        HEATMAP,
        "the cursor one column left",
        action="move(0,-1)",
    ),
    Action(
        "heatmap_right",
        "heatmap: cell to the right",
        "right,l",
        HEATMAP,
        "the cursor one column right",
        action="move(0,1)",
    ),
    Action(
        "heatmap_up",
        "heatmap: cell above",
        "up,k",
        HEATMAP,
        "the cursor one row up",
        action="move(-1,0)",
    ),
    Action(
        "heatmap_down",
        "heatmap: cell below",
        "down,j",
        HEATMAP,
        "the cursor one row down",
        action="move(1,0)",
    ),
    Action(
        "heatmap_first",
        "heatmap: first cell",
        "home,g",
        HEATMAP,
        "the top-left cell",
        action="corner(0)",
    ),
    Action(
        "heatmap_last",
        "heatmap: last cell",
        "end,G",
        HEATMAP,
        "the bottom-right cell",
        action="corner(1)",
    ),
)
