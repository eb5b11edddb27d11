"""Executors: feed batches to per-batch operators (engine.ops) and commit what they return.

`local` runs an operator in the job's own process over store chunks; `scale` drives the same
operator classes as Ray Data actors (one generic adapter, `scale.adapter`) over sharded files.
"""
