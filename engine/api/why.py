""" "Why this doc": the target examples nearest a doc, for any doc of a run's corpus. A doc of
the scored sample is in the embedding cache already; any other is embedded on request by an
`embed-docs` job (a worker process, never the caller's: the TUI stays responsive), after which
its vector is cached like every embedding and `nearest` answers at once."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from typing import Any

from engine.api.browse import NEVER_EMBEDDED, load_run_index, nearest_examples
from engine.api.jobs import queue, run_here
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


def why_doc(
    workspace: Workspace, run_id: int, doc_id: int, *, k: int = 5, embed: bool = False
) -> dict[str, Any]:
    """nearest_examples of the doc; with `embed`, a doc never embedded is embedded first (an
    embed-docs job run in this process, recorded in the job table like any other)."""
    with closing(workspace.connect(readonly=True)) as conn:
        index = load_run_index(conn, run_id)
        result = nearest_examples(conn, index, doc_id, k=k)
    if result.examples or not embed or result.reason != NEVER_EMBEDDED:
        return {**result.to_json(), "embedded_now": False}
    job_id = queue(workspace, embed_docs_spec(workspace, run_id, [doc_id]))
    run_here(workspace, job_id)
    with closing(workspace.connect(readonly=True)) as conn:
        result = nearest_examples(conn, index, doc_id, k=k)
    return {**result.to_json(), "embedded_now": True, "job_id": job_id}
