"""Screen 4, Threshold, as a package of small widgets.

`screen` (the keep rate and the tabs), `actions` (its keys), `messages` (what its workers and
widgets tell it), `keepbar` (the slider), `stats` (the numbers of one keep rate), `plots`,
`compute` (the budget and the compute law), `by_source` (the kept share per source),
`contamination` (the kept set's check), `agreement` and `compare` (the other two tabs),
`format` (how every number reads; tests format the engine's values with it).

Nothing is imported here: the screen registry imports `actions` at start-up, the screen itself
loads when it is first shown.
"""
