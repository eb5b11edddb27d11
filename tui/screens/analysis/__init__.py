"""Screen 6, Analysis, as a package of small widgets.

`screen` (the selectors, the reads, the keys), `selection` (what the selectors hold and the
engine arguments they make), `fit_tab` (Fit and Ranking), `calib_tab` (Calibration),
`corr_tab` (Correlations: protocols and tables) with `heatmap` (the Line-API matrix),
`tables` (tables that export), `format` (numbers, texts, CSV and SVG exports).
"""

from tui.screens.analysis.screen import AnalysisScreen

__all__ = ["AnalysisScreen"]
