"""Executors: feed batches to per-batch operators (engine.ops) and commit what they return.

`local` runs an operator in the job's own process over store chunks; a Ray executor will drive
the same operator classes through Ray Data's `map_batches`.
"""
