"""Screen 1, Workspace: `screen` (corpora, benchmarks, target sets and runs), `import_docs` (the
`betr import docs` form), `actions` (its keys), `messages` (what its workers tell it).

Nothing is imported here: the screen registry imports `actions` at start-up, the screen itself
loads when it is first shown.
"""
