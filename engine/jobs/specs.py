"""One frozen dataclass per job kind: what a job needs, checked when it is queued.

A spec is stored as the job's JSON config (`to_config`) and rebuilt by the worker
(`spec_from_config`), which checks every field's type again, so a job row edited or written by
an older betr fails with a clear message instead of a KeyError deep in a worker. A new job kind
is one spec (here, or in a module of SPEC_MODULES) plus one function in `engine.jobs.registry`.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from engine.device import check_device_name
from engine.errors import UsageError
from engine.jobs.json_types import conforms, describe
from engine.ops.proxy_nll import BOS_MODES
from engine.rbridge.weights import DEFAULT_PROMPT, ScoreConfig
from engine.terminal import check_path_name

SPECS: dict[str, type[JobSpec]] = {}  # kind -> spec class, filled as the classes are defined
# the other modules of specs (each registers its classes when imported; see all_specs)
SPEC_MODULES = ("engine.jobs.specs_scale", "engine.jobs.specs_docs", "engine.jobs.specs_trust")


@dataclass(frozen=True)
class JobSpec:
    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):
            SPECS[cls.kind] = cls

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):  # JSON has no tuples
                object.__setattr__(self, f.name, value := tuple(value))
            if not conforms(value, hints[f.name]):
                raise UsageError(
                    f"{self.kind} job: field '{f.name}' must be {describe(hints[f.name])}, "
                    f"got {value!r}"
                )
            _check_common(f.name, value)
        self.validate()

    def validate(self) -> None:
        """Checks beyond the field types (override)."""

    @property
    def title(self) -> str:
        return self.kind

    @property
    def run_id_of(self) -> int | None:
        """The run the job works on (recorded in jobs.run_id), if any."""
        return getattr(self, "run_id", None)

    def to_config(self) -> dict[str, Any]:
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }


@dataclass(frozen=True)
class ImportDocsSpec(JobSpec):
    """`betr import docs`: files into a new corpus."""

    kind: ClassVar[str] = "import-docs"
    corpus: str
    paths: tuple[str, ...]
    text_field: str = "text"
    id_field: str | None = None
    meta_fields: tuple[str, ...] = ()
    tokenizer: str | None = None
    skip_bad: bool = False

    @property
    def title(self) -> str:
        first = Path(self.paths[0]).name if self.paths else "?"
        more = f" +{len(self.paths) - 1}" if len(self.paths) > 1 else ""
        return f"import {first}{more} -> {self.corpus}"


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
class McEvalSpec(JobSpec):
    """Multiple-choice metrics of a proxy on imported multiple-choice benchmarks (METHODS 5:
    acc, acc_norm, acc_bytes, acc_per_char, confidence), the context under a BOS convention."""

    kind: ClassVar[str] = "proxy-mc-eval"
    proxy_id: int
    benchmark_ids: tuple[int, ...]
    limit: int | None = None
    batch_size: int = 16
    device: str = "auto"
    bos: str = "auto"

    def validate(self) -> None:
        if not self.benchmark_ids:
            raise UsageError("name at least one multiple-choice benchmark")
        if self.bos not in BOS_MODES:
            raise UsageError(
                f"--bos must be one of {', '.join(BOS_MODES)}, got '{self.bos}'",
                fix="auto follows the tokenizer.json; always / never force a BOS or none",
            )
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"--limit must be at least 1, got {self.limit}")

    @property
    def title(self) -> str:
        return f"mc-eval proxy {self.proxy_id} on {len(self.benchmark_ids)} benchmark(s)"


SELECTION_ORDERS = ("top", "bottom", "random")
MAX_LR = 1.0  # AdamW steps of more than the weights' own scale only diverge


@dataclass(frozen=True)
class ProxyTrainSpec(JobSpec):
    """Train a tiny GPT-NeoX-style proxy on a corpus (or a BETR selection of it), saving
    `checkpoints` evenly spaced checkpoints, each registered as a proxy of `dataset`."""

    kind: ClassVar[str] = "proxy-train"
    corpus_id: int
    dataset: str
    out_dir: str
    params: int
    tokens: int
    checkpoints: int = 4
    selection_run: int | None = None
    keep: float | None = None
    selection_order: str = "top"  # top | bottom | random: which X% of tokens (the demo's controls)
    seed: int = 0
    tokenizer: str = "neox"
    seq_len: int = 128
    batch_size: int = 16
    lr: float = 1e-3
    device: str = "auto"

    def validate(self) -> None:
        if self.params < 1000:
            raise UsageError(f"--params must be at least 1000, got {self.params}")
        if self.tokens < self.seq_len * self.batch_size:
            raise UsageError(
                f"--tokens must cover at least one batch ({self.seq_len * self.batch_size} "
                f"tokens), got {self.tokens}"
            )
        if self.checkpoints < 1:
            raise UsageError(f"--checkpoints must be at least 1, got {self.checkpoints}")
        if (self.selection_run is None) != (self.keep is None):
            raise UsageError("--selection and --keep go together")
        if self.keep is not None and not 0.0 < self.keep <= 1.0:
            raise UsageError(f"--keep must be a fraction in (0, 1], got {self.keep}")
        if self.selection_order not in SELECTION_ORDERS:
            raise UsageError(
                f"--order must be one of {', '.join(SELECTION_ORDERS)}, got '{self.selection_order}'"
            )
        vocab = self.tokenizer.partition(":")[2] if self.tokenizer.startswith("train:") else ""
        is_file = self.tokenizer.startswith("file:") and self.tokenizer.endswith(".json")
        if not (self.tokenizer == "neox" or vocab.isdigit() or is_file):
            raise UsageError(
                f"unknown --tokenizer '{self.tokenizer}'",
                fix="use neox (the GPT-NeoX tokenizer), train:VOCAB (a BPE trained on the "
                "corpus, e.g. train:4096) or file:PATH/tokenizer.json (one shared by proxies)",
            )
        if vocab.isdigit() and not 300 <= int(vocab) <= 200_000:
            raise UsageError(
                f"--tokenizer train:VOCAB needs 300 <= VOCAB <= 200000, got {vocab}",
                fix="e.g. train:4096",
            )
        if self.seq_len < 8 or self.batch_size < 1 or not 0 < self.lr <= MAX_LR:
            raise UsageError(
                f"--seq-len must be at least 8, --batch-size at least 1 and --lr in (0, {MAX_LR}] "
                f"(got {self.seq_len}, {self.batch_size}, {self.lr})",
                fix="the default --lr 1e-3 suits these small models",
            )
        check_path_name("dataset", self.dataset)

    @property
    def title(self) -> str:
        return f"train proxy {self.dataset} ({self.params:,} params, {self.tokens:,} tokens)"


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


@dataclass(frozen=True)
class DemoExperimentSpec(JobSpec):
    """The demo experiment: tiny proxies on three selections of a pool (BETR top X%, random
    X%, bottom X% of tokens) at two sizes, scored with rBridge and multiple choice; every step
    a child job of its own (engine.jobs.kinds.experiment)."""

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
    n_traces: int = 100
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


def all_specs() -> dict[str, type[JobSpec]]:
    """Every job kind's spec class (the modules of SPEC_MODULES imported)."""
    for module in SPEC_MODULES:
        importlib.import_module(module)
    return SPECS


def spec_from_config(kind: str, config: dict[str, Any]) -> JobSpec:
    """The spec of a stored job; a UsageError naming the kind and the field when it does not
    fit (an unknown kind, a missing, unknown or mistyped field)."""
    specs = all_specs()
    cls = specs.get(kind)
    if cls is None:
        raise UsageError(
            f"unknown job kind '{kind}'", fix=f"known kinds: {', '.join(sorted(specs))}"
        )
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(config) - names)
    if unknown:
        raise UsageError(f"{kind} job: unknown field(s) {', '.join(unknown)} in its config")
    try:
        return cls(**config)
    except TypeError as exc:  # a required field is missing
        raise UsageError(f"{kind} job: {exc}") from None


MAX_SEED = 2**32 - 1  # what numpy's and torch's generators take


def _check_common(name: str, value: Any) -> None:
    """Checks every job kind shares, by field name: a number is finite (a NaN or infinite
    --lr would train to NaN), a seed is a non-negative 32-bit integer, a batch size at least
    1, a device one this engine knows (never a silent fall back to the CPU)."""
    flag = "--" + name.replace("_", "-")
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{flag} must be a finite number, got {value}")
    if name == "seed" and value is not None and not 0 <= value <= MAX_SEED:
        raise UsageError(f"--seed must be between 0 and {MAX_SEED}, got {value}")
    if name == "batch_size" and value is not None and value < 1:
        raise UsageError(f"--batch-size must be at least 1, got {value}")
    if name == "device" and value is not None:
        check_device_name(value)
