"""The Analysis screen's actions (scope "analysis"), gathered into `tui.actions.ACTIONS` (keys,
command palette, help). The heatmap's cell cursor keys (arrows, h/j/k/l, g/G) are the heatmap's
own bindings, active while it has the focus; the selectors at the top are Selects (tab to them).
"""

from __future__ import annotations

from tui.action_model import Action

SCOPE = "analysis"

ANALYSIS_ACTIONS: tuple[Action, ...] = (
    Action(
        "analysis_next_tab",
        "Analysis: next tab (Fit, Ranking, Calibration, Correlations)",
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
        "Analysis: run the demo experiment (job, ~20 min)",
        "x",
        SCOPE,
        "press twice: tiny proxies on top/random/bottom selections at two sizes; opens the tabs",
        "Demo exp",
    ),
)
