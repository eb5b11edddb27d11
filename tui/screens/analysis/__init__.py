"""Screen 6, Analysis, as a package of small widgets.

`screen` (the selectors, the overview, the keys, TABS), `actions` (its keys, the heatmap's),
`messages` (what its workers and widgets tell it), `selection` (what the selectors hold, the
engine arguments they make, the context the tabs read), `tab` (what the tabs share), one module
per tab: `fit_tab`, `rank_tab`, `calib_tab`, `corr_tab` (Correlations: protocols and tables)
with `heatmap` (the Line-API matrix); `format` (numbers and texts).

Nothing is imported here: the screen registry imports `actions` at start-up, the screen itself
loads when it is first shown.
"""
