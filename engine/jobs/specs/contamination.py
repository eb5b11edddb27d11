"""Specs of the jobs that check a selection can be trusted ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from engine.errors import UsageError
from engine.jobs.specs.base import JobSpec


@dataclass(frozen=True)
class ContaminationSpec(JobSpec):
    """Fill the pending contamination check `check_id` that `engine.api.contamination`
    planned: the word n-grams its run's docs (positions 1..upto of the probability order)
    share with every imported benchmark's examples."""

    kind: ClassVar[str] = "contamination"
    check_id: int
    run_id: int
    workers: int | None = None  # processes; None: every core for a large check, else one

    def validate(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--workers must be at least 1, got {self.workers}")

    @property
    def title(self) -> str:
        return f"contamination check {self.check_id} of run {self.run_id}"
