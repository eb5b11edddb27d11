"""The spec of the job that clusters a run's scored sample into topics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from engine.jobs.specs.base import JobSpec


@dataclass(frozen=True)
class ClustersSpec(JobSpec):
    """k-means of run `run_id`'s scored sample (its cached embedding vectors) into `k`
    clusters with `seed`, each titled by c-TF-IDF, cached by (run, k, seed)
    (engine.betr.clusters). `k` is checked against the sample when the job is planned."""

    kind: ClassVar[str] = "clusters"
    run_id: int
    k: int
    seed: int = 0

    @property
    def title(self) -> str:
        return f"clusters of run {self.run_id}: k = {self.k}, seed {self.seed}"
