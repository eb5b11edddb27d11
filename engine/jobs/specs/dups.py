"""Specs of the duplicate jobs: near duplicates of a corpus by MinHash LSH."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from engine.errors import UsageError
from engine.jobs.specs.base import JobSpec


@dataclass(frozen=True)
class NearDupSpec(JobSpec):
    """Fill the pending near-duplicate run `near_run_id` that `engine.api.dups.plan_near_dups`
    created (its parameters are stored with it): band keys of every doc of its corpus, chunk by
    chunk, then the clusters."""

    kind: ClassVar[str] = "near-dups"
    near_run_id: int
    corpus: str
    workers: int | None = None  # processes; None: every core for a large corpus, else one

    def validate(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--workers must be at least 1, got {self.workers}")

    @property
    def title(self) -> str:
        return f"near duplicates of {self.corpus}"
