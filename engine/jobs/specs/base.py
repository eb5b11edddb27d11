"""The base of every job spec: a frozen dataclass whose fields are checked by type when it is
built (queued, or rebuilt from a stored config), plus the checks every kind shares by field name
(a finite number, a seed, a batch size, a device).

Defining a subclass with a `kind` registers it in SPECS (engine.jobs.specs imports every
family module, so SPECS is whole whenever a spec is looked up).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.device import check_device_name
from engine.errors import UsageError

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
            if not _conforms(value, hints[f.name]):
                raise UsageError(
                    f"{self.kind} job: field '{f.name}' must be {_describe(hints[f.name])}, "
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
