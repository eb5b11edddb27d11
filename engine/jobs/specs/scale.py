"""Specs of the scale-out jobs: Ray apply and embed over sharded files, and importing a Ray
apply's scores back into a run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from engine.errors import UsageError
from engine.jobs.specs.base import JobSpec

RAY_ADDRESS_HELP = "local (a Ray instance started for the job), auto, or HOST:PORT"


def check_ray_pool(spec: RayApplySpec | RayEmbedSpec, input_example: str) -> None:
    """What a Ray job over shards needs: inputs, and a pool of at least one actor."""
    if not spec.inputs:
        raise UsageError("no --input given", fix=input_example)
    if (
        spec.actors < 1
        or spec.batch_size < 1
        or (spec.actor_cpus is not None and not spec.actor_cpus > 0)
    ):
        raise UsageError("--actors and --batch-size must be at least 1, --actor-cpus > 0")


@dataclass(frozen=True)
class RayApplySpec(JobSpec):
    """A run's fastText classifier over sharded files on Ray Data: Parquet shards out with
    ids, p(positive) and token counts (engine.exec.scale); shards already written are skipped."""

    kind: ClassVar[str] = "ray-apply"
    run_id: int
    inputs: tuple[str, ...]
    out_dir: str
    address: str = "local"
    num_cpus: int | None = None  # of a local instance (default: every core)
    actors: int = 2
    actor_cpus: float | None = None  # per actor (default: fit the actors to the CPUs)
    batch_size: int = 4096
    text_field: str = "text"
    id_field: str | None = None  # default: "id" when present, else FILE:LINE
    tokenizer: str | None = None  # token counts (default: the run corpus's tokenizer)

    def validate(self) -> None:
        check_ray_pool(self, "e.g. --input 'shards/*.jsonl.gz'")

    @property
    def title(self) -> str:
        return f"ray apply run {self.run_id} -> {Path(self.out_dir).name}"


@dataclass(frozen=True)
class RayEmbedSpec(JobSpec):
    """Embeddings of sharded files on Ray Data (GPU actors when GPUs exist)."""

    kind: ClassVar[str] = "ray-embed"
    inputs: tuple[str, ...]
    out_dir: str
    embedder: str | None = None
    address: str = "local"
    num_cpus: int | None = None
    actors: int = 1
    actor_cpus: float | None = None
    batch_size: int = 256
    device: str = "auto"
    text_field: str = "text"
    id_field: str | None = None

    def validate(self) -> None:
        check_ray_pool(self, "e.g. --input 'shards/*.parquet'")

    @property
    def title(self) -> str:
        return f"ray embed -> {Path(self.out_dir).name}"


@dataclass(frozen=True)
class ImportScoresSpec(JobSpec):
    """Scores written by a Ray apply (Parquet shards) into the run, so the app browses them."""

    kind: ClassVar[str] = "import-scores"
    run_id: int
    path: str

    @property
    def title(self) -> str:
        return f"import scores {Path(self.path).name} -> run {self.run_id}"
