"""Specs of the proxy jobs: training a tiny proxy on a corpus or a selection of it, and its
multiple-choice evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from engine.betr.select import SELECTION_ORDERS
from engine.errors import UsageError
from engine.jobs.specs.base import JobSpec
from engine.ops.proxy_nll import BOS_MODES
from engine.terminal import check_path_name

MAX_LR = 1.0  # AdamW steps of more than the weights' own scale only diverge


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
    selection_order: str = "top"  # which X% of tokens: a name of SELECTION_ORDERS
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
