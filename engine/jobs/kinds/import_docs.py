"""The `import-docs` job: documents into a new corpus, token-counted and full-text indexed.

Each doc's exact-duplicate hash (engine.betr.dedup_text.exact_hash) is written with it.

Imports are transactional at the corpus level: rows are committed chunk by chunk (so a long
import is resumable after a crash), but the corpus stays in state `importing`, invisible to
analyses, until the last chunk lands. Bad input without `--skip-bad` deletes the partial corpus,
so a failed import changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.betr.dedup_text import exact_hash
from engine.errors import InputError, UsageError
from engine.jobs.context import JobContext
from engine.jobs.kinds.checkpoints import ImportDocsCheckpoint
from engine.jobs.specs import ImportDocsSpec
from engine.store import catalog, docs, dups
from engine.store import jobs as store_jobs
from engine.store.db import rollback_if_open, transaction
from engine.terminal import check_name

CHUNK_DOCS = 2000
CHUNK_CHARS = 4_000_000
MAX_SKIP_REPORT = 20


@dataclass
class PendingDoc:
    ext_id: str
    text: str
    source: str  # "file:line"
    meta: str | None
    where: tuple[str, int, str]  # (file, line, unit) for error messages


def run_import_docs(ctx: JobContext, spec: ImportDocsSpec) -> dict[str, Any]:
    return DocImporter(ctx, spec).run()


class DocImporter:
    def __init__(self, ctx: JobContext, cfg: ImportDocsSpec):
        from engine.ingest.readers import expand_sources
        from engine.tokenize import load_tokenizer

        self.ctx = ctx
        self.cfg = cfg
        self.sources = expand_sources(cfg.paths)
        self.tokenizer = load_tokenizer(cfg.tokenizer)
        self.skipped: list[str] = []
        self.n_skipped = 0
        checkpoint = ctx.restore(ImportDocsCheckpoint)
        self.position = checkpoint.records  # records consumed, bad ones included
        self.n_skipped = checkpoint.skipped
        self.committed_skipped = self.n_skipped
        self._read_position = 0
        self.corpus_id: int | None = checkpoint.corpus_id

    # -- the job --------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        t0 = time.monotonic()
        if self.ctx.total is None or self.ctx.checkpoint is None:
            self.ctx.log.info("counting records in %d source(s)", len(self.sources))
            self.ctx.set_total(self.count_records(), "docs")
        try:
            if self.corpus_id is None:
                self.corpus_id = self.create_corpus()
            else:
                self.check_corpus_still_there()
            self.import_records()
            stats = self.finish()
        except InputError:
            self.discard_corpus()
            raise
        stats["seconds"] = round(time.monotonic() - t0, 3)
        return stats

    def count_records(self) -> int:
        from engine.ingest.counting import count_records

        return sum(count_records(s) for s in self.sources)

    def create_corpus(self) -> int:
        cfg = self.cfg
        check_name("corpus", cfg.corpus)
        with transaction(self.ctx.conn) as conn:
            corpus_id = catalog.insert_corpus(
                conn,
                name=cfg.corpus,
                tokenizer=self.tokenizer.name,
                tokenizer_sha256=self.tokenizer.sha256,
                text_field=cfg.text_field,
                id_field=cfg.id_field,
                meta_fields=list(cfg.meta_fields),
                sources=[s.name for s in self.sources],
                job_id=self.ctx.job_id,
            )
            self.ctx.set_checkpoint(ImportDocsCheckpoint(corpus_id=corpus_id))
        return corpus_id

    def check_corpus_still_there(self) -> None:
        """A resumed import whose partial corpus was deleted meanwhile starts nothing."""
        row = catalog.corpus_by_id(self.ctx.conn, self.corpus_id)
        if row is None or row["deleting_at"] is not None or row["name"] != self.cfg.corpus:
            raise UsageError(
                f"the partial corpus '{self.cfg.corpus}' of this import was deleted, so it "
                "cannot be resumed",
                fix=f"import the files again: betr import docs ... --corpus {self.cfg.corpus}",
            )

    def import_records(self) -> None:
        """Tokenize chunk n+1 on a thread while chunk n is written (tokenizers frees the GIL;
        its batch encode runs on every core, `encode_threads`): one writer, every core."""
        from engine.tokenize import encode_threads

        self.ctx.log.info("tokenizing on %d thread(s), one writer", encode_threads())
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenize") as pool:
            pending: tuple[list[PendingDoc], int, int, Future] | None = None
            for chunk, consumed, skipped in self.chunks():
                future = pool.submit(self.tokenizer.count, [d.text for d in chunk])
                if pending is not None:
                    self.write_chunk(*pending)
                pending = (chunk, consumed, skipped, future)
            if pending is not None:
                self.write_chunk(*pending)

    def chunks(self) -> Iterator[tuple[list[PendingDoc], int, int]]:
        """Yields (docs, records read so far, records skipped so far) in bounded chunks.

        The skip count is snapshotted at yield time: reading runs one chunk ahead of writing,
        and a checkpoint must count only the skips up to its own last record.
        """
        from engine.ingest.docfields import extract_doc
        from engine.ingest.readers import iter_records

        chunk: list[PendingDoc] = []
        chars = 0
        position = 0
        self._read_position = 0
        for source in self.sources:
            for rec in iter_records(source, skip_bad=self.cfg.skip_bad, on_skip=self.on_skip):
                position += 1
                self._read_position = position
                if position <= self.position:
                    continue  # committed by an earlier attempt
                try:
                    ext_id, text, meta = extract_doc(
                        rec, self.cfg.text_field, self.cfg.id_field, tuple(self.cfg.meta_fields)
                    )
                except InputError as exc:
                    if not self.cfg.skip_bad:
                        raise
                    self.on_skip(exc)
                    continue
                loc = f"{Path(rec.source).name}:{rec.line}"
                if rec.unit != "line":
                    loc = f"{Path(rec.source).name} {rec.unit} {rec.line}"
                chunk.append(
                    PendingDoc(
                        ext_id,
                        text,
                        loc,
                        json.dumps(meta, ensure_ascii=False, default=str) if meta else None,
                        (rec.source, rec.line, rec.unit),
                    )
                )
                chars += len(text)
                if len(chunk) >= CHUNK_DOCS or chars >= CHUNK_CHARS:
                    yield chunk, position, self.n_skipped
                    chunk, chars = [], 0
        if chunk or position > self.position or self.n_skipped > self.committed_skipped:
            yield chunk, max(position, self.position), self.n_skipped

    def on_skip(self, exc: InputError) -> None:
        if self._read_position < self.position:
            return  # skipped and counted by an earlier attempt
        self.n_skipped += 1
        if len(self.skipped) < MAX_SKIP_REPORT:
            self.skipped.append(str(exc).split("\n  fix:")[0])
        self.ctx.log.warning("skipped: %s", exc.message)  # its fix names --skip-bad: given

    def write_chunk(
        self, chunk: list[PendingDoc], consumed: int, skipped: int, counts: Future
    ) -> None:
        n_tokens = counts.result()
        rows = self.rows(chunk, n_tokens)
        while True:
            try:
                self.commit(rows, consumed, skipped)
                return
            except sqlite3.IntegrityError:
                rows = self.drop_duplicate_ids(chunk, rows)

    def rows(self, chunk: list[PendingDoc], n_tokens: list[int]) -> list[tuple]:
        cid = self.corpus_id
        return [
            (cid, d.ext_id, d.text, n, len(d.text), d.source, d.meta)
            for d, n in zip(chunk, n_tokens, strict=True)
        ]

    def commit(self, rows: list[tuple], consumed: int, skipped: int) -> None:
        hashes = [(exact_hash(r[2]), r[1]) for r in rows]

        def write(conn: sqlite3.Connection) -> None:
            docs.insert_docs(conn, rows)
            dups.insert_hashes_by_ext_id(conn, self.corpus_id, hashes)
            catalog.add_to_corpus(
                conn,
                self.corpus_id,
                len(rows),
                sum(r[3] for r in rows),
                sum(r[4] for r in rows),
                skipped,
            )

        self.ctx.commit_chunk(
            write,
            advance=consumed - self.position,
            checkpoint=ImportDocsCheckpoint(
                records=consumed, skipped=skipped, corpus_id=self.corpus_id
            ),
        )
        self.position = consumed
        self.committed_skipped = skipped

    def drop_duplicate_ids(self, chunk: list[PendingDoc], rows: list[tuple]) -> list[tuple]:
        """After a UNIQUE failure: name the duplicate (or skip it with --skip-bad)."""
        stored = docs.sources_of_ext_ids(self.ctx.conn, self.corpus_id, [r[1] for r in rows])
        keep: list[tuple] = []
        seen: dict[str, str] = {}
        by_id = {d.ext_id: d for d in chunk}
        for row, doc in zip(rows, [by_id.get(r[1]) for r in rows], strict=True):
            first = stored.get(row[1]) or seen.get(row[1])
            if first is None:
                seen[row[1]] = row[5]
                keep.append(row)
                continue
            file, line, unit = doc.where if doc else ("?", None, "line")
            exc = InputError(
                f"duplicate document id '{row[1]}' (first seen at {first})",
                file=file,
                line=line,
                unit=unit,
                field=self.cfg.id_field or "id",
                fix="make ids unique, choose another --id-field, or pass --skip-bad",
            )
            if not self.cfg.skip_bad:
                raise exc
            self.on_skip(exc)
        if len(keep) == len(rows):
            raise RuntimeError("UNIQUE constraint failed but no duplicate id was found")
        return keep

    def finish(self) -> dict[str, Any]:
        from engine.tokenize import encode_threads

        with transaction(self.ctx.conn) as conn:
            row = catalog.mark_corpus_ready(conn, self.corpus_id, self.n_skipped)
            store_jobs.set_done_to_total(conn, self.ctx.job_id)
        return {
            "corpus": self.cfg.corpus,
            "corpus_id": self.corpus_id,
            "docs": row["n_docs"],
            "tokens": row["n_tokens"],
            "chars": row["n_chars"],
            "skipped": self.n_skipped,
            "skipped_examples": self.skipped,
            "tokenizer": self.tokenizer.name,
            "tokenizer_threads": encode_threads(),
        }

    def discard_corpus(self) -> None:
        """Bad input: remove everything this import wrote, so the workspace is unchanged."""
        if self.corpus_id is None:
            return
        conn = self.ctx.conn
        rollback_if_open(conn)
        with transaction(conn):
            catalog.drop_corpus_row(conn, self.corpus_id)
            self.ctx.set_checkpoint(None)
        self.ctx.log.info("discarded partial corpus %s", self.cfg.corpus)
