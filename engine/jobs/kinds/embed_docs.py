"""embed-docs: docs of a run's corpus through the run's embedder into the embedding cache, so
the viewer's nearest examples work for docs outside the scored sample (issue #13). Cached by
text like every embedding: a doc embedded once (here or by a score) is never embedded again."""

from __future__ import annotations

from typing import Any

from engine.errors import UsageError
from engine.exec.local import embed_texts
from engine.jobs.context import JobContext
from engine.jobs.specs_docs import EmbedDocsSpec
from engine.ops.embed import EmbedTexts
from engine.store import docs
from engine.store import runs as store_runs
from engine.store.embeddings import SqliteEmbeddingCache

EMBED_BATCH = 64


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
    op = EmbedTexts(cfg["embedder_spec"], device=spec.device, batch_size=EMBED_BATCH)
    op.setup()
    if op.model_id != cfg["model_id"]:
        raise UsageError(
            f"the embedder at {cfg.get('embedder_path')} changed since run {spec.run_id} was "
            f"scored ({cfg['model_id']} then, {op.model_id} now): its vectors would not compare",
            fix="start a new run with betr score",
        )
    texts = [found[d]["text"] for d in spec.doc_ids]
    ctx.start_phase(len(texts), "docs")
    cache = SqliteEmbeddingCache(conn)
    before = len(cache.get_many(cfg["model_id"], _keys(texts)))

    def progress(done: int, _missing: int) -> None:
        ctx.commit_chunk(lambda _c: None, advance=done - ctx.done, checkpoint={})

    embed_texts(op, texts, cache, progress=progress)
    ctx.commit_chunk(lambda _c: None, advance=len(texts) - ctx.done, checkpoint={"done": True})
    ctx.log.info("embedded %d doc(s), %d already cached", len(texts) - before, before)
    return {
        "run_id": spec.run_id,
        "docs": len(texts),
        "embedded": len(set(_keys(texts))) - before,  # the rest were cached
        "device": op.embedder.device,
    }


def _keys(texts: list[str]) -> list[bytes]:
    from engine.embed import text_sha256

    return [text_sha256(t) for t in texts]
