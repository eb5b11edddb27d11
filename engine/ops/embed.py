"""Text embeddings with a local sentence-transformers model (METHODS 1.2)."""

from __future__ import annotations

from typing import Any

from engine.ops import Batch, Resources, device_resources


class EmbedTexts:
    """`setup()` loads the model once (on `device`: auto picks cuda, then mps, then cpu);
    `__call__({"text": [...]})` adds "vector": (n, dim) float32 unit vectors.

    After setup: `model_id`, `dim`, and the loaded `embedder` (engine.embed.Embedder)."""

    def __init__(self, spec: str | None, device: str = "auto", batch_size: int = 64):
        self.spec = spec
        self.device = device
        self.batch_size = batch_size
        self.embedder: Any = None

    @property
    def resources(self) -> Resources:
        return device_resources(self.device)

    def setup(self) -> None:
        from engine.embed import Embedder

        if self.embedder is None:
            self.embedder = Embedder.load(self.spec, device=self.device)

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def encode(self, texts: list[str], batch_size: int | None = None) -> Any:
        """(n, dim) float32 unit vectors (what `engine.embed.embed_cached` calls for the
        texts it has no cached vector of)."""
        return self(({"text": texts}), batch_size=batch_size)["vector"]

    def __call__(self, batch: Batch, batch_size: int | None = None) -> Batch:
        self.setup()
        out = dict(batch)
        out["vector"] = self.embedder.encode(
            list(batch["text"]), batch_size=batch_size or self.batch_size
        )
        return out
