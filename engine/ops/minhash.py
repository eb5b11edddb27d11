"""MinHash LSH band keys of each doc of a batch (engine.betr.minhash)."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.ops import Batch, Resources


class MinHashBands:
    """`__call__({"id": [...], "text": [...]})` -> {"id", "signed": the ids of the docs with
    at least one shingle (int64), "keys": their band keys ((k, buckets) uint64)}."""

    resources = Resources(cpus=1.0)

    def __init__(self, params: dict[str, Any], *, batch_size: int = 2000):
        self.params = dict(params)
        self.batch_size = batch_size

    def setup(self) -> None:
        """Nothing to load: the permutations are drawn per call (microseconds)."""

    def __call__(self, batch: Batch) -> Batch:
        from engine.betr.minhash import MinHashParams, text_band_keys

        keys, signed = text_band_keys(list(batch["text"]), MinHashParams(**self.params))
        ids = np.asarray(batch["id"], dtype=np.int64)
        return {"id": list(batch["id"]), "signed": ids[signed], "keys": keys}
