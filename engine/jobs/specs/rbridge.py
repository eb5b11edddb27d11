"""Specs of the rBridge jobs: scoring a proxy on a benchmark's traces, and a local model as the
frontier (generating traces, or their letter probabilities under teacher forcing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from engine.errors import UsageError
from engine.jobs.specs.base import JobSpec
from engine.rbridge.weights import DEFAULT_PROMPT, ScoreConfig


@dataclass(frozen=True)
class RbridgeScoreSpec(JobSpec):
    """rBridge scores of one proxy on one benchmark's traces (METHODS 2): fills the pending
    rbridge_scores row `score_id` that `engine.api.rbridge` planned (and caches)."""

    kind: ClassVar[str] = "rbridge-score"
    score_id: int
    proxy_id: int
    benchmark_id: int
    minmax: str = "trace"
    prompt: str = DEFAULT_PROMPT
    batch_size: int = 8
    device: str = "auto"

    def validate(self) -> None:
        ScoreConfig(self.minmax, self.prompt)  # checks the scope and the prompt
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, got {self.batch_size}")

    @property
    def title(self) -> str:
        return f"rbridge score proxy {self.proxy_id} on benchmark {self.benchmark_id}"


@dataclass(frozen=True)
class GenerateSpec(JobSpec):
    """A local causal LM as the frontier: greedy reasoning traces with per-token
    log-probabilities for a benchmark's questions (METHODS 2, trace generation)."""

    kind: ClassVar[str] = "rbridge-generate"
    benchmark_id: int
    model: str
    task: str = ""
    limit: int | None = None
    max_new_tokens: int = 512
    batch_size: int = 4
    device: str = "auto"

    @property
    def title(self) -> str:
        return f"generate traces for benchmark {self.benchmark_id}"


@dataclass(frozen=True)
class TeacherForceSpec(JobSpec):
    """Letter probabilities for imported traces that have none, by scoring each trace under a
    local model (teacher forcing: what a greedy generator would have reported)."""

    kind: ClassVar[str] = "rbridge-teacher-force"
    benchmark_id: int
    model: str
    prompt: str = DEFAULT_PROMPT
    overwrite: bool = False
    batch_size: int = 4
    device: str = "auto"

    @property
    def title(self) -> str:
        return f"teacher-force traces of benchmark {self.benchmark_id}"
