"""Per-batch operators: `setup()` once (load a model), then `__call__(batch) -> batch`.

A batch is a dict of equal-length columns (lists or numpy arrays), the shape Ray Data's
`map_batches` hands a callable class, so the local executor (`engine.exec.local`) and, next, a
Ray executor drive the same classes. Operators never touch the workspace: they get texts and
ids, and return columns.
"""

from __future__ import annotations

from typing import Any, Protocol

Batch = dict[str, Any]


class Operator(Protocol):
    def setup(self) -> None: ...

    def __call__(self, batch: Batch) -> Batch: ...
