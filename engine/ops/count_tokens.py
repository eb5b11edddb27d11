"""The token count of each text under a tokenizer (engine.tokenize), as an operator."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.ops import Batch, Resources


class CountTokens:
    """`setup()` loads the tokenizer once; `__call__({"text": [...]})` adds "n_tokens": (n,)
    int64 token counts (no special tokens, no truncation)."""

    resources = Resources(cpus=1.0)

    def __init__(self, tokenizer: str, *, batch_size: int = 4096):
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.counter: Any = None

    def setup(self) -> None:
        from engine.tokenize import load_tokenizer

        if self.counter is None:
            self.counter = load_tokenizer(self.tokenizer)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to a worker or an actor) without the loaded tokenizer."""
        return {**self.__dict__, "counter": None}

    def __call__(self, batch: Batch) -> Batch:
        self.setup()
        out = dict(batch)
        out["n_tokens"] = np.asarray(self.counter.count(list(batch["text"])), dtype=np.int64)
        return out
