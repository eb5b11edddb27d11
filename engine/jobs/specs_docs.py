"""Specs of the small per-document jobs the viewer starts (registered in
engine.jobs.specs.SPECS when imported)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from engine.errors import UsageError
from engine.jobs.specs import JobSpec

MAX_EMBED_DOCS = 10_000


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
