"""Screen 5, rBridge, as a package of small widgets.

`screen` (the selection and the reads), `actions` (its keys, the token view's), `messages` (what
its workers and widgets tell it), `tracelist` (the traces of a score, sortable), `tokens` (a
trace's tokens: colourings, wrapping, the status numbers), `tokenview` (the per-token view, Line
API, with its legend and status line), `proxytable` (the proxies on a benchmark and their
curve), `trainform` (the proxy training form), `summary` (texts).

Nothing is imported here: the screen registry imports `actions` at start-up, the screen itself
loads when it is first shown.
"""
