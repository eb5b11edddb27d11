"""One frozen dataclass per job kind: what a job needs, checked when it is queued.

A spec is stored as the job's JSON config (`to_config`) and rebuilt by the worker
(`spec_from_config`), which checks every field's type again, so a job row edited or written by
an older betr fails with a clear message instead of a KeyError deep in a worker. A new job kind
is one spec here plus one function in `engine.jobs.registry`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from engine.errors import UsageError


@dataclass(frozen=True)
class JobSpec:
    kind: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):  # JSON has no tuples
                object.__setattr__(self, f.name, value := tuple(value))
            if not _conforms(value, hints[f.name]):
                raise UsageError(
                    f"{self.kind} job: field '{f.name}' must be {_describe(hints[f.name])}, "
                    f"got {value!r}"
                )
        self.validate()

    def validate(self) -> None:
        """Checks beyond the field types (override)."""

    @property
    def title(self) -> str:
        return self.kind

    @property
    def run_id_of(self) -> int | None:
        """The run the job works on (recorded in jobs.run_id), if any."""
        return getattr(self, "run_id", None)

    def to_config(self) -> dict[str, Any]:
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }


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
class ScoreSpec(JobSpec):
    """Sample, embed and rank-score a BETR run."""

    kind: ClassVar[str] = "betr-score"
    run_id: int
    device: str = "auto"

    @property
    def title(self) -> str:
        return f"score run {self.run_id}"


@dataclass(frozen=True)
class TrainSpec(JobSpec):
    """Label the scored sample and train the run's fastText classifier."""

    kind: ClassVar[str] = "betr-train"
    run_id: int
    positive_frac: float | None = None
    fasttext: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.positive_frac is not None and not 0.0 < self.positive_frac < 1.0:
            raise UsageError(
                f"--positive-frac must be between 0 and 1 (exclusive), got {self.positive_frac}"
            )

    @property
    def title(self) -> str:
        return f"train run {self.run_id}"


@dataclass(frozen=True)
class ApplySpec(JobSpec):
    """p(positive) for every doc of the run's corpus."""

    kind: ClassVar[str] = "betr-apply"
    run_id: int

    @property
    def title(self) -> str:
        return f"apply run {self.run_id}"


@dataclass(frozen=True)
class PipelineSpec(TrainSpec):
    """score -> train -> apply in one worker (what the demo queues): the training settings,
    and the device to embed on."""

    kind: ClassVar[str] = "betr-pipeline"
    device: str = "auto"

    @property
    def title(self) -> str:
        return f"BETR run {self.run_id} (score, train, apply)"


SPECS: dict[str, type[JobSpec]] = {
    cls.kind: cls for cls in (ImportDocsSpec, ScoreSpec, TrainSpec, ApplySpec, PipelineSpec)
}


def spec_from_config(kind: str, config: dict[str, Any]) -> JobSpec:
    """The spec of a stored job; a UsageError naming the kind and the field when it does not
    fit (an unknown kind, a missing, unknown or mistyped field)."""
    cls = SPECS.get(kind)
    if cls is None:
        raise UsageError(
            f"unknown job kind '{kind}'", fix=f"known kinds: {', '.join(sorted(SPECS))}"
        )
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(config) - names)
    if unknown:
        raise UsageError(f"{kind} job: unknown field(s) {', '.join(unknown)} in its config")
    try:
        return cls(**config)
    except TypeError as exc:  # a required field is missing
        raise UsageError(f"{kind} job: {exc}") from None


def _conforms(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(hint)
        return isinstance(value, tuple) and all(_conforms(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    names = {str: "text", int: "an integer", float: "a number", bool: "true or false"}
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if typing.get_origin(hint) is tuple:
        return "a list of texts"
    if typing.get_origin(hint) is dict:
        return "an object"
    return names.get(hint, getattr(hint, "__name__", str(hint)))
