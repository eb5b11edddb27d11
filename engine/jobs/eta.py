"""The ETA of a multi-step job (the demo experiment) from its steps' own times.

A multi-step job runs steps of a few kinds (train a 250k proxy, score one checkpoint, ...) whose
durations differ by orders of magnitude, so "steps left / steps per second" swings from seconds
to hours as fast and slow steps alternate. Instead, each step belongs to a group of steps that do
the same work (same kind, same size), and the time left is

    the running step's own ETA (from its own rate, in its own unit)
  + for every step not started yet, the mean time of the finished steps of its group
    (when none has finished, the running step's elapsed time + its ETA, if it is of that group).

When any remaining step has no such estimate, the ETA is unknown (None): a number is shown only
when every step left has been measured.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RunningStep:
    """The step in progress: its group, seconds since it started, its own ETA (None: unknown)."""

    group: str
    elapsed_s: float
    eta_s: float | None


def steps_eta(
    plan: Mapping[str, int],
    finished: Sequence[tuple[str, float | None]],
    running: RunningStep | None = None,
) -> float | None:
    """Seconds left of a job whose steps are `plan` (group -> number of steps in the whole job),
    of which `finished` ran ((group, seconds), seconds None when not measured) and `running` is
    in progress. None when a step left has no estimate (see the module docstring)."""
    times: dict[str, list[float]] = defaultdict(list)
    for group, seconds in finished:
        if seconds is not None:
            times[group].append(seconds)
    left = Counter(plan)
    left.subtract(group for group, _ in finished)
    eta = 0.0
    if running is not None:
        if running.eta_s is None:
            return None
        left[running.group] -= 1
        eta += running.eta_s
    for group, n in left.items():
        if n <= 0:
            continue
        if times[group]:
            per_step = sum(times[group]) / len(times[group])
        elif running is not None and running.group == group and running.eta_s is not None:
            per_step = running.elapsed_s + running.eta_s
        else:
            return None
        eta += n * per_step
    return eta
