"""The base of every job spec: a frozen dataclass whose fields are checked by type when it is
built (queued, or rebuilt from a stored config), plus the checks every kind shares by field name
(a finite number, a seed, a batch size, a device).

Defining a subclass with a `kind` registers it in SPECS (engine.jobs.specs imports every
family module, so SPECS is whole whenever a spec is looked up).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.device import check_device_name
from engine.errors import UsageError
from engine.jobs.json_types import conforms, describe

SPECS: dict[str, type[JobSpec]] = {}  # kind -> spec class, filled as the classes are defined


@dataclass(frozen=True)
class JobSpec:
    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):
            SPECS[cls.kind] = cls

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):  # JSON has no tuples
                object.__setattr__(self, f.name, value := tuple(value))
            if not conforms(value, hints[f.name]):
                raise UsageError(
                    f"{self.kind} job: field '{f.name}' must be {describe(hints[f.name])}, "
                    f"got {value!r}"
                )
            _check_common(f.name, value)
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


MAX_SEED = 2**32 - 1  # what numpy's and torch's generators take


def _check_common(name: str, value: Any) -> None:
    """Checks every job kind shares, by field name: a number is finite (a NaN or infinite
    --lr would train to NaN), a seed is a non-negative 32-bit integer, a batch size at least
    1, a device one this engine knows (never a silent fall back to the CPU)."""
    flag = "--" + name.replace("_", "-")
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{flag} must be a finite number, got {value}")
    if name == "seed" and value is not None and not 0 <= value <= MAX_SEED:
        raise UsageError(f"--seed must be between 0 and {MAX_SEED}, got {value}")
    if name == "batch_size" and value is not None and value < 1:
        raise UsageError(f"--batch-size must be at least 1, got {value}")
    if name == "device" and value is not None:
        check_device_name(value)
