"""Screen 3, Documents: `screen` (the current run's documents, sorted, filtered, searched, with
its search and filter dialogs), `doclist` (the Line-API list), `viewer` (one document, why it
was chosen, hand labels) with `viewer_contamination`, `actions` (the keys of the screen, the
list and the viewer), `messages` (what their workers tell them).

Nothing is imported here: the screen registry imports `actions` at start-up, the screens load
when they are first shown.
"""
