"""What a correlation protocol is asked (CorrRequest: one name per parameter, from `betr corr`
through engine.api.analysis_corr.corr to `run`) and what it answers (CorrResult)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class CorrRequest:
    """One correlation protocol's parameters, as `betr corr`, engine.api.analysis_corr.corr and
    `run` take them. pt / sft name the two stages (or two scales) to pair; checkpoint="last"
    keeps each run's last checkpoint when a run has several."""

    protocol: str = "matrix"
    metric: str = "acc"
    conf_metric: str = "confidence"
    stage: str | None = None
    scale: str | None = None
    method: str = "pearson"
    pt: str | None = None
    sft: str | None = None
    attribute: str | None = None
    checkpoint: str = "error"


@dataclass(frozen=True)
class CorrResult:
    """A protocol's result: what every protocol says (the pairing, the runs, notes), then
    `parts`, the protocol's own tables (see engine.api.analysis_corr.corr for their keys)."""

    protocol: str
    metric: str
    conf_metric: str | None  # None unless the protocol reads confidence
    method: str
    axis: str | None  # "stage" or "scale": what PT and SFT are; None when nothing pairs
    pt: str | None
    sft: str | None
    contexts: list[str]
    stages: list[str | None]
    scales: list[str | None]
    n_runs: int
    notes: list[str]
    parts: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of `betr corr --json`: the common keys, then the protocol's parts (a
        part named like a common key, the tiers' scales, takes its place)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)[:-1]}
        out.update(self.parts)
        return out
