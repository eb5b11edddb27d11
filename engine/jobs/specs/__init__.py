"""One frozen dataclass per job kind: what a job needs, checked when it is queued.

A spec is stored as the job's JSON config (`to_config`) and rebuilt by the worker
(`spec_from_config`), which checks every field's type again, so a job row edited or written by
an older betr fails with a clear message instead of a KeyError deep in a worker.

One module per job family, each imported here (defining a spec registers it in SPECS):
docs (import-docs, embed-docs), betr (betr-score, -train, -apply, -pipeline), rbridge
(rbridge-score, -generate, -teacher-force), proxies (proxy-train, proxy-mc-eval), demo
(demo-experiment), scale (ray-apply, ray-embed, import-scores), contamination, clusters and dups
(near-dups). A new job kind
is one spec in its family's module plus one function in `engine.jobs.registry`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from engine.errors import UsageError
from engine.jobs.specs.base import SPECS, JobSpec
from engine.jobs.specs.betr import ApplySpec, PipelineSpec, ScoreSpec, TrainSpec
from engine.jobs.specs.clusters import ClustersSpec
from engine.jobs.specs.contamination import ContaminationSpec
from engine.jobs.specs.demo import DemoExperimentSpec
from engine.jobs.specs.docs import EmbedDocsSpec, ImportDocsSpec
from engine.jobs.specs.dups import NearDupSpec
from engine.jobs.specs.proxies import McEvalSpec, ProxyTrainSpec
from engine.jobs.specs.rbridge import GenerateSpec, RbridgeScoreSpec, TeacherForceSpec
from engine.jobs.specs.scale import ImportScoresSpec, RayApplySpec, RayEmbedSpec

__all__ = [
    "SPECS",
    "ApplySpec",
    "ClustersSpec",
    "ContaminationSpec",
    "DemoExperimentSpec",
    "EmbedDocsSpec",
    "GenerateSpec",
    "ImportDocsSpec",
    "ImportScoresSpec",
    "JobSpec",
    "McEvalSpec",
    "NearDupSpec",
    "PipelineSpec",
    "ProxyTrainSpec",
    "RayApplySpec",
    "RayEmbedSpec",
    "RbridgeScoreSpec",
    "ScoreSpec",
    "TeacherForceSpec",
    "TrainSpec",
    "all_specs",
    "spec_from_config",
]


def all_specs() -> dict[str, type[JobSpec]]:
    """Every job kind's spec class, by kind."""
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
