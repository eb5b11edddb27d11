"""A job's checkpoint: what a resumed job continues from, as a frozen dataclass.

One class per job kind (engine.jobs.kinds.checkpoints). `ctx.commit_chunk` and `ctx.advance`
store it as the JSON of the job's `checkpoint` column (`to_json`), in the chunk's transaction;
`ctx.restore(cls)` rebuilds it (`read`), checking every field's type as a spec does
(engine.jobs.specs), so a row edited by hand or written by another betr fails with a message
naming the job kind and the field, never a KeyError deep in a job.

Invariants:
- The JSON's keys are the field names; a field that is None or False is left out (absent reads
  as that default), so each stored shape is the one the job kinds wrote before these classes
  existed (the TUI, `betr jobs resume` and the tests read some keys: `loss`, `resumes_at`,
  `stage`).
- Every field has a default: a job that has committed nothing restores the defaults.
- A dict an older betr wrote is read: a field it lacks takes its default, and a class whose
  shape changed maps the old shape in `upgrade`, so a job interrupted before an upgrade resumes
  after it (tests/unit/test_checkpoints.py holds each shape as the old code wrote it).
- A checkpoint is never mutated: a job makes the next one with `dataclasses.replace` or a
  method of its class, and commits it.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass
from typing import Any, Self

from engine.errors import UsageError
from engine.jobs.json_types import conforms, describe

RESTART = "the job cannot resume from it: start it again with the command that queued it"


@dataclass(frozen=True)
class Checkpoint:
    """Base of the job kinds' checkpoints: typed fields, JSON in and out."""

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):  # JSON has no tuples
                object.__setattr__(self, f.name, value := tuple(value))
            if not conforms(value, hints[f.name]):
                raise UsageError(
                    f"checkpoint field '{f.name}' must be {describe(hints[f.name])}, got {value!r}",
                    fix=RESTART,
                )
        self.validate()

    def validate(self) -> None:
        """Checks beyond the field types (override)."""

    @classmethod
    def read(cls, stored: dict[str, Any] | None, kind: str = "") -> Self:
        """The checkpoint of a stored JSON dict (None: nothing committed yet, the defaults);
        a UsageError naming the job kind and the field when it does not fit."""
        what = f"{kind or cls.__name__} job"
        if stored is not None and not isinstance(stored, dict):
            raise UsageError(f"{what}: its checkpoint is not an object: {stored!r}", fix=RESTART)
        data = cls.upgrade(dict(stored or {}))
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise UsageError(
                f"{what}: unknown checkpoint field(s) {', '.join(unknown)}", fix=RESTART
            )
        try:
            return cls(**data)
        except UsageError as exc:
            raise UsageError(f"{what}: {exc.message}", fix=RESTART) from None

    @classmethod
    def upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        """A dict in an older shape of this class, in the current one (override where the
        shape changed)."""
        return data

    def to_json(self) -> dict[str, Any]:
        """What is stored: the fields that are neither None nor False, tuples as lists."""
        return {
            f.name: list(v) if isinstance(v, tuple) else v
            for f in dataclasses.fields(self)
            if (v := getattr(self, f.name)) is not None and v is not False
        }


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)
