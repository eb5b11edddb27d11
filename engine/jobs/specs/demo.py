"""Spec of the demo experiment (a parent job whose steps are child jobs of their own)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from engine.errors import UsageError
from engine.jobs.specs.base import JobSpec


@dataclass(frozen=True)
class DemoExperimentSpec(JobSpec):
    """The demo experiment: tiny proxies on three selections of a pool (BETR top X%, random
    X%, bottom X% of tokens) at two sizes, scored with rBridge, bpb on the run's held-out
    target text and on control benchmarks, and multiple choice; every step a child job of its
    own (engine.jobs.kinds.experiment)."""

    kind: ClassVar[str] = "demo-experiment"
    corpus_id: int
    run_id: int
    out_dir: str
    keep: float = 0.10
    sizes: tuple[int, ...] = (250_000, 1_000_000)
    tokens: int = 300_000
    checkpoints: int = 3
    vocab: int = 2048
    trace_benchmark: str = "gsm8k"
    # gold traces per benchmark evaluated on (engine.jobs.kinds.experiment_eval): 200 holds
    # every held-out example of OpenBookQA and MATH-500 and most of SciQ's and GSM8K's
    n_traces: int = 200
    # benchmarks the run does not target, evaluated beside its held-out targets (the demo:
    # `core` when the run targets `noncore`)
    control_benchmarks: tuple[str, ...] = ()
    mc_benchmarks: tuple[str, ...] = ("arc-easy", "piqa", "sciq", "hellaswag")
    mc_limit: int = 100
    seq_len: int = 128
    batch_size: int = 16
    seed: int = 0
    device: str = "auto"
    pipeline_fasttext: dict[str, Any] = field(default_factory=dict)  # if the run is not applied

    def validate(self) -> None:
        if len(self.sizes) != 2 or not all(s >= 1000 for s in self.sizes):
            raise UsageError(f"two model sizes of at least 1000 parameters, got {self.sizes}")
        if not 0.0 < self.keep <= 0.5:
            raise UsageError(f"the keep share must be in (0, 0.5], got {self.keep}")

    @property
    def title(self) -> str:
        return "demo experiment: top / random / bottom selections, two proxy sizes"
