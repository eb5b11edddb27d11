"""Executors: feed batches to per-batch operators (engine.ops) and commit what they return.

`local` runs an operator in the job's own process over store chunks; `ray` drives the same
operator classes in Ray actors through Ray Data's `map_batches`, over sharded files.
"""
