"""p(positive) of each text under a run's fastText classifier (METHODS 1.5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.ops import Batch, Resources


class FastTextApply:
    """`setup()` checks the model file against its recorded sha256 and loads it once;
    `__call__({"id": ..., "text": [...]})` adds "prob": (n,) float64 p(positive)."""

    resources = Resources(cpus=1.0)

    def __init__(
        self,
        model_path: Path | str,
        sha256: str | None = None,
        run_id: int | None = None,
        *,
        batch_size: int = 4096,
    ):
        self.model_path = Path(model_path)
        self.sha256 = sha256
        self.run_id = run_id
        self.batch_size = batch_size
        self.model: Any = None

    def setup(self) -> None:
        from engine.betr.classifier import file_sha256, load_classifier

        if self.model is not None:
            return
        if self.sha256 is not None and file_sha256(self.model_path) != self.sha256:
            raise UsageError(
                f"{self.model_path} does not match the sha256 recorded for run {self.run_id}",
                fix=f"retrain it: betr train --run {self.run_id}",
            )
        self.model = load_classifier(self.model_path)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to a worker process) without the loaded model: the copy loads its own."""
        return {**self.__dict__, "model": None}

    def __call__(self, batch: Batch) -> Batch:
        from engine.betr.classifier import predict_positive

        if self.model is None:
            self.setup()
        out = dict(batch)
        out["prob"] = predict_positive(self.model, list(batch["text"]))
        return out
