"""Specs of a BETR run's steps: score, train, apply, and the three in one worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from engine.errors import UsageError
from engine.jobs.specs.base import JobSpec


@dataclass(frozen=True)
class ScoreSpec(JobSpec):
    """Sample, embed and rank-score a BETR run."""

    kind: ClassVar[str] = "betr-score"
    run_id: int
    device: str = "auto"

    @property
    def title(self) -> str:
        return f"score run {self.run_id}"


@dataclass(frozen=True)
class TrainSpec(JobSpec):
    """Label the scored sample and train the run's fastText classifier."""

    kind: ClassVar[str] = "betr-train"
    run_id: int
    positive_frac: float | None = None
    fasttext: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.positive_frac is not None and not 0.0 < self.positive_frac < 1.0:
            raise UsageError(
                f"--positive-frac must be between 0 and 1 (exclusive), got {self.positive_frac}"
            )

    @property
    def title(self) -> str:
        return f"train run {self.run_id}"


@dataclass(frozen=True)
class ApplySpec(JobSpec):
    """p(positive) for every doc of the run's corpus."""

    kind: ClassVar[str] = "betr-apply"
    run_id: int
    workers: int | None = None  # processes; None: every core (one for a small corpus)

    def validate(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--workers must be at least 1, got {self.workers}")

    @property
    def title(self) -> str:
        return f"apply run {self.run_id}"


@dataclass(frozen=True)
class PipelineSpec(TrainSpec):
    """score -> train -> apply in one worker (what the demo queues): the training settings,
    and the device to embed on."""

    kind: ClassVar[str] = "betr-pipeline"
    device: str = "auto"

    @property
    def title(self) -> str:
        return f"BETR run {self.run_id} (score, train, apply)"
