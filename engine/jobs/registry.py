"""Job kinds: kind -> (spec class, "module:function"). The function's module is imported only
when a job of that kind runs, so listing jobs never imports torch, faiss or fasttext.

A job function is `run(ctx: JobContext, spec) -> result dict`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from engine.errors import UsageError
from engine.jobs.specs import all_specs

JOB_FUNCTIONS: dict[str, str] = {
    "import-docs": "engine.jobs.kinds.import_docs:run_import_docs",
    "betr-score": "engine.jobs.kinds.betr:run_score",
    "betr-train": "engine.jobs.kinds.betr:run_train",
    "betr-apply": "engine.jobs.kinds.betr:run_apply",
    "betr-pipeline": "engine.jobs.kinds.betr:run_pipeline",
    "rbridge-score": "engine.jobs.kinds.rbridge:run_score",
    "proxy-mc-eval": "engine.jobs.kinds.mc_eval:run_mc_eval",
    "proxy-train": "engine.jobs.kinds.proxy_train:run_train",
    "rbridge-generate": "engine.jobs.kinds.frontier:run_generate",
    "rbridge-teacher-force": "engine.jobs.kinds.frontier:run_teacher_force",
    "demo-experiment": "engine.jobs.kinds.experiment:run_experiment",
    "ray-apply": "engine.jobs.kinds.scale.shards:run_ray_apply",
    "ray-embed": "engine.jobs.kinds.scale.shards:run_ray_embed",
    "import-scores": "engine.jobs.kinds.scale.import_scores:run_import_scores",
    "embed-docs": "engine.jobs.kinds.embed_docs:run_embed_docs",
    "contamination": "engine.jobs.kinds.contamination:run_contamination",
    "clusters": "engine.jobs.kinds.clusters:run_clusters",
    "near-dups": "engine.jobs.kinds.near_dups:run_near_dups",
}
assert set(JOB_FUNCTIONS) == set(all_specs()), "every spec has a function and every function a spec"


def job_function(kind: str) -> Callable[..., dict[str, Any]]:
    try:
        target = JOB_FUNCTIONS[kind]
    except KeyError:
        raise UsageError(
            f"unknown job kind '{kind}'", fix=f"known kinds: {', '.join(sorted(JOB_FUNCTIONS))}"
        ) from None
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)
