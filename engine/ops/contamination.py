"""Benchmark n-gram overlaps of each doc of a batch (METHODS "Contamination")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.ops import Batch, Resources


class FindOverlaps:
    """`setup()` builds the hashed n-gram index of the example texts once;
    `__call__({"id": ..., "position": ..., "text": [...]})` adds "overlaps": a list of
    (position, doc id, example index, start, end, ngrams), one per overlap
    (engine.betr.contamination.find_overlaps), by doc, then example, then start."""

    resources = Resources(cpus=1.0)

    def __init__(self, example_texts: Sequence[str], n: int, *, batch_size: int = 2000):
        self.example_texts = list(example_texts)
        self.n = n
        self.batch_size = batch_size
        self.index: Any = None

    def setup(self) -> None:
        from engine.betr.contamination import build_index

        if self.index is None:
            self.index = build_index(self.example_texts, self.n)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to a worker process) without the index: the copy builds its own."""
        return {**self.__dict__, "index": None}

    def __call__(self, batch: Batch) -> Batch:
        from engine.betr.contamination import find_overlaps

        self.setup()
        ids, positions = list(batch["id"]), list(batch["position"])
        out = dict(batch)
        out["overlaps"] = [
            (positions[o.doc], ids[o.doc], o.example, o.start, o.end, o.ngrams)
            for o in find_overlaps(self.index, list(batch["text"]))
        ]
        return out
