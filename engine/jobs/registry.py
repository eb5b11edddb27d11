"""Job kinds: name -> "module:function". Modules are imported only when a job of that kind runs,
so listing jobs never imports torch, faiss or fasttext."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from engine.errors import UsageError

JOB_KINDS: dict[str, str] = {
    "import-docs": "engine.ingest.docs:run_import_docs_job",
    "betr-score": "engine.betr.stages:run_score_job",
    "betr-train": "engine.betr.stages:run_train_job",
    "betr-apply": "engine.betr.stages:run_apply_job",
    "betr-pipeline": "engine.betr.stages:run_pipeline_job",
}


def job_function(kind: str) -> Callable[..., dict[str, Any]]:
    try:
        target = JOB_KINDS[kind]
    except KeyError:
        raise UsageError(
            f"unknown job kind '{kind}'", fix=f"known kinds: {', '.join(sorted(JOB_KINDS))}"
        ) from None
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)
