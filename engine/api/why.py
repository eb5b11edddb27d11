""" "Why this doc": the target examples nearest a doc, for any doc of a run's corpus. A doc of
the scored sample is in the embedding cache already; any other is embedded on request by an
`embed-docs` job (a worker process, never the caller's: the TUI stays responsive), after which
its vector is cached like every embedding and `nearest` answers at once."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from engine.api.browse import (
    NEVER_EMBEDDED,
    NearestExample,
    NearestExamples,
    load_run_index,
    nearest_examples,
)
from engine.api.jobs import queue, run_here
from engine.api.records import Record
from engine.errors import NotFoundError, UsageError
from engine.jobs.specs import EmbedDocsSpec
from engine.store import docs
from engine.store import runs as store_runs
from engine.workspace import Workspace


def embed_docs_spec(
    workspace: Workspace, run_id: int, doc_ids: Sequence[int], device: str = "auto"
) -> EmbedDocsSpec:
    """The spec that embeds `doc_ids` with run `run_id`'s embedder (UsageError when the run
    has none yet or a doc is not in its corpus)."""
    with closing(workspace.connect(readonly=True)) as conn:
        run = store_runs.get_run(conn, run_id)
        if run["state"] == "pending" or "model_id" not in run["config"]:
            raise UsageError(
                f"run {run_id} is {run['state']}: it has no embedded sample to compare with",
                fix=f"score it first: betr score (run {run_id})",
            )
        found = docs.docs_by_ids(conn, doc_ids, ("corpus_id",))
        for doc_id in doc_ids:
            if doc_id not in found:
                raise NotFoundError(f"no doc {doc_id}", fix="`betr docs --run R` lists doc ids")
            if found[doc_id]["corpus_id"] != run["corpus_id"]:
                raise UsageError(f"doc {doc_id} is not in run {run_id}'s corpus")
    return EmbedDocsSpec(run_id=run_id, doc_ids=tuple(doc_ids), device=device)


@dataclass(frozen=True)
class WhyDoc(Record):
    """The k target examples nearest a doc, or why there are none (`reason`)."""

    examples: list[NearestExample]
    reason: str | None  # why `examples` is empty (NEVER_EMBEDDED: --embed helps)
    sample: int | None  # the scored sample's size (None when there are no examples)
    embedded_now: bool  # the doc was embedded by this call
    job_id: int | None = None  # the embed-docs job that did it

    def to_json(self) -> dict[str, Any]:
        """`sample` only with examples found, `job_id` only when embedded now."""
        out = super().to_json()
        if out["sample"] is None:
            del out["sample"]
        if not self.embedded_now:
            del out["job_id"]
        return out


def _why(result: NearestExamples, job_id: int | None) -> WhyDoc:
    return WhyDoc(result.examples, result.reason, result.sample, job_id is not None, job_id)


def why_doc(
    workspace: Workspace, run_id: int, doc_id: int, *, k: int = 5, embed: bool = False
) -> WhyDoc:
    """nearest_examples of the doc; with `embed`, a doc never embedded is embedded first (an
    embed-docs job run in this process, recorded in the job table like any other)."""
    with closing(workspace.connect(readonly=True)) as conn:
        index = load_run_index(conn, run_id)
        result = nearest_examples(conn, index, doc_id, k=k)
    if result.examples or not embed or result.reason != NEVER_EMBEDDED:
        return _why(result, None)
    job_id = queue(workspace, embed_docs_spec(workspace, run_id, [doc_id]))
    run_here(workspace, job_id)
    with closing(workspace.connect(readonly=True)) as conn:
        result = nearest_examples(conn, index, doc_id, k=k)
    return _why(result, job_id)
