"""embed-docs: docs of a run's corpus through the run's embedder into the embedding cache, so
the viewer's nearest examples work for docs outside the scored sample (issue #13). Cached by
text like every embedding: a doc embedded once (here or by a score) is never embedded again."""

from __future__ import annotations

from typing import Any

from engine.errors import UsageError
from engine.exec.local import embed_texts
from engine.jobs.context import JobContext
from engine.jobs.kinds.betr import run_embedder
from engine.jobs.kinds.checkpoints import EmbedDocsCheckpoint
from engine.jobs.specs import EmbedDocsSpec
from engine.store import docs
from engine.store import runs as store_runs
from engine.store.embeddings import SqliteEmbeddingCache


def run_embed_docs(ctx: JobContext, spec: EmbedDocsSpec) -> dict[str, Any]:
    conn = ctx.conn
    run = store_runs.get_run(conn, spec.run_id)
    cfg = run["config"]
    if "model_id" not in cfg:
        raise UsageError(f"run {spec.run_id} is not a BETR run with an embedder")
    found = docs.docs_by_ids(conn, list(spec.doc_ids), ("text", "corpus_id"))
    missing = [d for d in spec.doc_ids if d not in found]
    if missing:
        raise UsageError(f"no doc {missing[0]} in the workspace")
    foreign = [d for d in spec.doc_ids if found[d]["corpus_id"] != run["corpus_id"]]
    if foreign:
        raise UsageError(f"doc {foreign[0]} is not in run {spec.run_id}'s corpus")
    op = run_embedder(cfg, spec.device)
    texts = [found[d]["text"] for d in spec.doc_ids]
    ctx.start_phase(len(texts), "docs")
    cache = SqliteEmbeddingCache(conn)
    before = len(cache.get_many(cfg["model_id"], list(set(_keys(texts)))))

    def progress(done: int, _missing: int) -> None:
        ctx.advance(done - ctx.done, EmbedDocsCheckpoint())

    embed_texts(op, texts, cache, progress=progress)
    ctx.advance(len(texts) - ctx.done, EmbedDocsCheckpoint(done=True))
    embedded = len(set(_keys(texts))) - before  # the rest were cached
    ctx.log.info("embedded %d doc text(s), %d already cached", embedded, before)
    return {
        "run_id": spec.run_id,
        "docs": len(texts),
        "embedded": embedded,
        "device": op.embedder.device,
    }


def _keys(texts: list[str]) -> list[bytes]:
    from engine.embed import text_sha256

    return [text_sha256(t) for t in texts]
