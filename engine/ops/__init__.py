"""Per-batch operators: `setup()` once (load a model), then `__call__(batch) -> batch`.

A batch is a dict of equal-length columns (lists or numpy arrays), the shape Ray Data's
`map_batches` hands a callable class, so the local executor (`engine.exec.local`) and the
scale-out executor (`engine.exec.scale`) drive the same classes. Operators never touch the
workspace: they get texts and ids, and return columns.

An operator declares what one copy of it needs, `resources` (CPUs, GPUs), and the rows it takes
per call, `batch_size`; the scale-out executor reserves the one per actor and feeds the other
(`engine.exec.scale.adapter`: any operator becomes a Ray Data actor, with no actor class of its
own). The local executor runs an operator in the job's process (or its worker processes) over
the chunks the job commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

Batch = dict[str, Any]


@dataclass(frozen=True)
class Resources:
    """What one copy of an operator needs: CPUs, and GPUs (a fraction shares one)."""

    cpus: float = 1.0
    gpus: float = 0.0


def device_resources(device: str) -> Resources:
    """One CPU, and one GPU for a CUDA device ("auto" reserves none: the device it resolves to
    is known only where it runs)."""
    return Resources(cpus=1.0, gpus=1.0 if device.startswith("cuda") else 0.0)


class Operator(Protocol):
    resources: Resources  # what one copy needs (reserved per actor by the scale-out executor)
    batch_size: int  # rows per call

    def setup(self) -> None: ...

    def __call__(self, batch: Batch) -> Batch: ...
