"""Screen 2, Jobs: `screen` (every job with live progress, cancel, resume), `log` (a job's log,
followed), `actions` (the keys of both), `messages` (what their workers tell them).

Nothing is imported here: the screen registry imports `actions` at start-up, the screens load
when they are first shown.
"""
