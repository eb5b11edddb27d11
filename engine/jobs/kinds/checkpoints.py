"""The checkpoint of every job kind (engine.jobs.checkpoint): the fields a resumed job reads,
and the next checkpoint it commits.

Each class keeps the JSON shape its kind wrote before these classes existed (some keys are read
outside the job: `loss` by the TUI, `resumes_at` by `betr jobs resume`), and reads the older
shapes listed in its docstring; tests/unit/test_checkpoints.py holds one of each.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self

from engine.errors import UsageError
from engine.jobs.checkpoint import RESTART, Checkpoint


@dataclass(frozen=True)
class ImportDocsCheckpoint(Checkpoint):
    """import-docs: the records consumed (bad ones included) and skipped, and the partial
    corpus they went into."""

    records: int = 0
    skipped: int = 0
    corpus_id: int | None = None


BETR_STAGES = ("sampled", "embed", "rank", "scored", "labels", "trained", "validated")
BETR_STAGES += ("apply", "applied")


@dataclass(frozen=True)
class BetrCheckpoint(Checkpoint):
    """betr-score, -train, -apply and -pipeline (which runs all three in one worker): the last
    stage committed and, while applying, the last doc id staged, the classifier applied
    (sha256) and the rows staged so far."""

    stage: str | None = None
    last_doc_id: int | None = None
    classifier: str | None = None
    staged: int | None = None

    def validate(self) -> None:
        if self.stage is not None and self.stage not in BETR_STAGES:
            raise UsageError(f"unknown checkpoint stage '{self.stage}'", fix=RESTART)

    def applying(self, classifier: str, staged: int) -> bool:
        """Whether an apply of `classifier` resumes from here: the same classifier (not
        retrained meanwhile) and every row it staged still there."""
        return self.stage == "apply" and self.classifier == classifier and self.staged == staged

    def staged_chunk(self, last_doc_id: int, rows: int) -> Self:
        """The apply after one more chunk: `rows` staged up to `last_doc_id`."""
        staged = (self.staged or 0) + rows
        return dataclasses.replace(self, last_doc_id=int(last_doc_id), staged=staged)


@dataclass(frozen=True)
class RbridgeScoreCheckpoint(Checkpoint):
    """rbridge-score: start, nll (with the traces scored) or done. A resumed job reads the
    traces already scored from the store; the checkpoint says how far it got."""

    stage: str = "start"
    scored: int | None = None


@dataclass(frozen=True)
class McEvalCheckpoint(Checkpoint):
    """proxy-mc-eval: the benchmark in progress and the items scored, or stage "done" once its
    metrics are written (a resumed job skips the items in the store)."""

    benchmark: int | None = None
    items: int | None = None
    stage: str | None = None


@dataclass(frozen=True)
class ProxyTrainCheckpoint(Checkpoint):
    """proxy-train: the last saved training state (step, tokens, its directory), the
    checkpoints registered as proxies so far, the latest loss, and once the last state is
    committed, the job's result. `resumes_at` is the progress a resume starts from (the saved
    state's tokens: progress reports run ahead of it). Older shape: no `resumes_at` (before
    issue 19; a resume then started its progress from the last report)."""

    step: int = 0
    tokens: int = 0
    state_dir: str | None = None
    registered: tuple[dict[str, Any], ...] = ()
    loss: float | None = None
    resumes_at: int | None = None
    finished: bool = False
    result: dict[str, Any] | None = None

    def progress(self, loss: float) -> Self:
        """A progress report between saved states: a resume still starts from this state."""
        return dataclasses.replace(self, loss=loss, resumes_at=self.tokens)

    def saved(
        self, step: int, tokens: int, state_dir: str, loss: float, new: dict[str, Any] | None
    ) -> Self:
        """A new saved state, with the checkpoint registered at it (if any)."""
        registered = (*self.registered, new) if new is not None else self.registered
        return dataclasses.replace(
            self,
            step=step,
            tokens=tokens,
            state_dir=state_dir,
            registered=registered,
            loss=loss,
            resumes_at=tokens,
        )

    def finish(self, result: dict[str, Any]) -> Self:
        return dataclasses.replace(self, finished=True, result=result)


@dataclass(frozen=True)
class ExperimentCheckpoint(Checkpoint):
    """demo-experiment: each step's child job, the steps finished in order, and each finished
    step's [group, seconds]. Older shape: no `steps` (before the experiment's ETA: a step's
    group is then guessed from its key, engine.jobs.kinds.experiment.step_group)."""

    children: dict[str, int] = field(default_factory=dict)
    finished: tuple[str, ...] = ()
    steps: dict[str, Any] = field(default_factory=dict)  # key -> [group, seconds]

    def with_child(self, key: str, job_id: int) -> Self:
        return dataclasses.replace(self, children={**self.children, key: job_id})

    def step_done(self, key: str, group: str | None, seconds: float) -> Self:
        """`key` finished, after `seconds` in `group` (None: it was not timed here)."""
        steps = self.steps if group is None else {**self.steps, key: [group, seconds]}
        return dataclasses.replace(self, finished=(*self.finished, key), steps=steps)


@dataclass(frozen=True)
class GenerateCheckpoint(Checkpoint):
    """rbridge-generate: traces generated and examples retried so far, and the examples that
    failed with their reasons (a resumed job skips them and the examples with a trace)."""

    stage: str = "generate"
    generated: int = 0
    retried: int = 0
    failures: tuple[dict[str, Any], ...] = ()

    def chunk_done(self, generated: int, retried: int, failures: list[dict[str, Any]]) -> Self:
        return dataclasses.replace(
            self,
            generated=self.generated + generated,
            retried=self.retried + retried,
            failures=(*self.failures, *failures),
        )


@dataclass(frozen=True)
class TeacherForceCheckpoint(Checkpoint):
    """rbridge-teacher-force: the last trace id committed, the traces given probabilities so
    far, the traces that had some before the job (None: not counted yet) and the failures."""

    stage: str = "teacher-force"
    after_id: int = 0
    teacher_forced: int = 0
    skipped: int | None = None
    failures: tuple[dict[str, Any], ...] = ()

    def chunk_done(self, after_id: int, forced: int, failures: list[dict[str, Any]]) -> Self:
        return dataclasses.replace(
            self,
            after_id=after_id,
            teacher_forced=self.teacher_forced + forced,
            failures=(*self.failures, *failures),
        )


@dataclass(frozen=True)
class ImportScoresCheckpoint(Checkpoint):
    """import-scores: while staging, the shard files' fingerprint ([name, size, mtime_ns]
    each: other files start over), the next shard and row, the rows staged and what the
    check of the shards found ({docs, token_mismatches}); "imported" once swapped in."""

    stage: str | None = None
    shards: tuple[tuple[Any, ...], ...] | None = None
    shard: int | None = None
    row: int | None = None
    staged: int | None = None
    checked: dict[str, Any] | None = None

    @classmethod
    def upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        if isinstance(data.get("shards"), list):  # JSON lists: tuples, to compare
            data["shards"] = [tuple(s) if isinstance(s, list) else s for s in data["shards"]]
        return data

    def resumes(self, shards: tuple[tuple[Any, ...], ...], staged: int) -> bool:
        """Whether staging resumes from here: the same files, every staged row still there."""
        return self.stage == "import-scores" and self.shards == shards and self.staged == staged


@dataclass(frozen=True)
class ContaminationCheckpoint(Checkpoint):
    """contamination: the check filled, the last position done with the docs hit and the hits
    so far; `finished` once the check is marked finished (then without the counts)."""

    check_id: int | None = None
    after: int | None = None
    docs_hit: int | None = None
    hits: int | None = None
    finished: bool = False

    def checked(self, position: int, overlaps: list) -> Self:
        """After one more chunk: checked up to `position`, with its overlaps (position, doc,
        ...) counted."""
        return dataclasses.replace(
            self,
            after=int(position),
            docs_hit=(self.docs_hit or 0) + len({o[0] for o in overlaps}),
            hits=(self.hits or 0) + len(overlaps),
        )


@dataclass(frozen=True)
class RayShardsCheckpoint(Checkpoint):
    """ray-apply and ray-embed: the shards written so far (a resumed job skips the shards
    whose output file exists, whatever this says)."""

    stage: str = "ray-apply"
    shards_done: int = 0


@dataclass(frozen=True)
class EmbedDocsCheckpoint(Checkpoint):
    """embed-docs: done once every text is in the embedding cache (which a resumed job
    reads: what is cached is not embedded again). Older shape: {} while embedding."""

    done: bool = False


CLUSTER_STAGES = ("vectors", "kmeans", "titles", "written")


@dataclass(frozen=True)
class ClustersCheckpoint(Checkpoint):
    """clusters: the last step done. Nothing is written before the last one (the set is
    written whole), so a resumed job starts over from the vectors."""

    stage: str | None = None

    def validate(self) -> None:
        if self.stage is not None and self.stage not in CLUSTER_STAGES:
            raise UsageError(f"unknown checkpoint stage '{self.stage}'", fix=RESTART)


@dataclass(frozen=True)
class NearDupCheckpoint(Checkpoint):
    """near-dups: the run filled, the exact hashes backfilled (docs imported without one),
    the last doc id whose band keys are staged, the docs looked at and signed so far;
    `finished` once the run's clusters are written."""

    near_run_id: int | None = None
    hashed: bool = False
    after: int | None = None
    docs: int | None = None
    signed: int | None = None
    finished: bool = False

    def chunk_done(self, last_doc_id: int, docs: int, signed: int) -> Self:
        return dataclasses.replace(
            self,
            after=int(last_doc_id),
            docs=(self.docs or 0) + docs,
            signed=(self.signed or 0) + signed,
        )
