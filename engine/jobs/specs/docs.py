"""Specs of the jobs on documents: importing files into a corpus, and embedding a few docs of a
run's corpus (what the viewer starts for "why this doc")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from engine.errors import UsageError
from engine.jobs.specs.base import JobSpec

MAX_EMBED_DOCS = 10_000


@dataclass(frozen=True)
class ImportDocsSpec(JobSpec):
    """`betr import docs`: files into a new corpus."""

    kind: ClassVar[str] = "import-docs"
    corpus: str
    paths: tuple[str, ...]
    text_field: str = "text"
    id_field: str | None = None
    meta_fields: tuple[str, ...] = ()
    tokenizer: str | None = None
    skip_bad: bool = False

    @property
    def title(self) -> str:
        first = Path(self.paths[0]).name if self.paths else "?"
        more = f" +{len(self.paths) - 1}" if len(self.paths) > 1 else ""
        return f"import {first}{more} -> {self.corpus}"


@dataclass(frozen=True)
class EmbedDocsSpec(JobSpec):
    """Embed some docs of a run's corpus with the run's embedder, into the workspace's
    embedding cache (so "why this doc" works for docs outside the scored sample)."""

    kind: ClassVar[str] = "embed-docs"
    run_id: int
    doc_ids: tuple[int, ...]
    device: str = "auto"

    def validate(self) -> None:
        if not self.doc_ids:
            raise UsageError("embed-docs needs at least one doc id")
        if len(self.doc_ids) > MAX_EMBED_DOCS:
            raise UsageError(
                f"embed-docs takes at most {MAX_EMBED_DOCS:,} docs, got {len(self.doc_ids):,}",
                fix="score a larger sample instead (betr score --sample N)",
            )

    @property
    def title(self) -> str:
        if len(self.doc_ids) == 1:
            return f"embed doc {self.doc_ids[0]} (run {self.run_id})"
        return f"embed {len(self.doc_ids)} docs (run {self.run_id})"
