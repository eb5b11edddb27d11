"""Target sets: named groups of benchmarks a BETR run scores documents against.

Balanced targets (METHODS 1.3): the same number of examples from each benchmark, drawn with
the run's seed. Each benchmark's draw depends only on (seed, benchmark name, its example ids),
so the same benchmark gives the same examples in any target set.

Held-out targets (`holdout`): a seeded share of each benchmark's examples that the run never
embeds, kept aside to measure what the selection did on text BETR did not see (the demo
experiment scores proxies on it). Each benchmark's split depends only on (seed, benchmark name,
its example ids), from a stream of its own (not the balanced draw's).

Split awareness: BETR targets should come from train splits. A target benchmark imported from a
test or validation split is flagged wherever its runs are shown.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.errors import UsageError

# split names (or their words: "test_rc", "validation-1000") that mark an evaluation split
EVAL_SPLIT_WORDS = frozenset({"test", "testing", "validation", "valid", "val", "dev", "eval"})
SPLIT_WARNING = (
    "targets come from the evaluation split: results on this benchmark are not a fair test"
)


def parse_names(spec: str) -> list[str]:
    """ "a, b,c" -> ["a", "b", "c"]."""
    return [name.strip() for name in spec.split(",") if name.strip()]


# -- balanced targets -------------------------------------------------------------------------
def resolve_per_benchmark(spec: str | int, sizes: Mapping[str, int]) -> int:
    """`--per-benchmark N|min` over benchmarks of these sizes -> N. `min` is the smallest
    benchmark's size; N must be at least 1 and at most every benchmark's size."""
    if not sizes:
        raise UsageError("--per-benchmark needs at least one target benchmark")
    smallest = min(sizes.values())
    text = str(spec).strip().lower()
    if text == "min":
        return smallest
    try:
        n = int(text)
    except ValueError:
        raise UsageError(
            f"--per-benchmark must be a number or 'min', got '{spec}'",
            fix="e.g. --per-benchmark 500, or --per-benchmark min",
        ) from None
    if n < 1:
        raise UsageError(f"--per-benchmark must be at least 1, got {n}")
    for name, size in sorted(sizes.items()):
        if n > size:
            raise UsageError(
                f"--per-benchmark {n} is more than benchmark '{name}' has ({size} examples)",
                fix=f"use --per-benchmark {smallest} or less, or --per-benchmark min "
                f"(the smallest benchmark's size, {smallest}); or leave '{name}' out",
            )
    return n


def benchmark_rng(seed: int, name: str) -> np.random.Generator:
    """The generator of one benchmark's draw: from the run's seed and the benchmark's name."""
    return np.random.default_rng([int(seed) % 2**63, zlib.crc32(name.encode("utf-8"))])


def draw_balanced(
    ids_by_benchmark: Mapping[str, Sequence[int]], n: int, seed: int
) -> dict[str, list[int]]:
    """`n` example ids of each benchmark, uniformly without replacement, kept in the order
    given (file order). Deterministic in (seed, benchmark name, its ids)."""
    out: dict[str, list[int]] = {}
    for name in sorted(ids_by_benchmark):
        ids = list(ids_by_benchmark[name])
        if n > len(ids):
            raise UsageError(
                f"--per-benchmark {n} is more than benchmark '{name}' has ({len(ids)} examples)"
            )
        chosen = np.sort(benchmark_rng(seed, name).choice(len(ids), size=n, replace=False))
        out[name] = [int(ids[i]) for i in chosen]
    return out


# the held-out split's random stream, apart from the balanced draw's (benchmark_rng)
HOLDOUT_STREAM = 0x484F4C44  # "HOLD"


def check_holdout(fraction: float) -> float:
    """A held-out share in [0, 1) (0: none), else a UsageError."""
    if not isinstance(fraction, int | float) or not 0.0 <= float(fraction) < 1.0:
        raise UsageError(
            f"--holdout must be a share in [0, 1), got {fraction}",
            fix="e.g. --holdout 0.2 keeps 20% of each benchmark's examples out of the run",
        )
    return float(fraction)


def draw_holdout(
    ids_by_benchmark: Mapping[str, Sequence[int]], fraction: float, seed: int
) -> dict[str, list[int]]:
    """The held-out example ids of each benchmark: round(fraction * n) of its n examples (at
    least 1, at most n - 1), uniformly without replacement, in the order given (file order).
    Deterministic in (seed, benchmark name, its ids). A benchmark of fewer than 2 examples
    cannot be split (UsageError)."""
    fraction = check_holdout(fraction)
    out: dict[str, list[int]] = {}
    if fraction == 0.0:
        return out
    for name in sorted(ids_by_benchmark):
        ids = list(ids_by_benchmark[name])
        if len(ids) < 2:
            raise UsageError(
                f"benchmark '{name}' has {len(ids)} example(s): too few to hold any out",
                fix="leave it out of the targets, or run without --holdout",
            )
        k = min(len(ids) - 1, max(1, round(fraction * len(ids))))
        rng = np.random.default_rng(
            [int(seed) % 2**63, zlib.crc32(name.encode("utf-8")), HOLDOUT_STREAM]
        )
        chosen = np.sort(rng.choice(len(ids), size=k, replace=False))
        out[name] = [int(ids[i]) for i in chosen]
    return out


def examples_used(config: Mapping[str, Any]) -> dict[str, int]:
    """How many examples of each target benchmark a BETR run config scores with."""
    drawn = config.get("target_examples")
    if drawn:
        return {name: len(ids) for name, ids in sorted(drawn.items())}
    return dict(sorted((config.get("benchmarks") or {}).items()))


# -- split awareness --------------------------------------------------------------------------
def is_eval_split(split: str | None) -> bool:
    """Whether a split name is an evaluation split (test, validation, dev, ...)."""
    if not split:
        return False
    words = re.split(r"[^a-z]+", split.lower())
    return any(w in EVAL_SPLIT_WORDS for w in words)


def split_warnings(splits: Mapping[str, str | None]) -> list[str]:
    """One warning per target benchmark drawn from an evaluation split, by name."""
    return [
        f"{name} ({split} split): {SPLIT_WARNING}"
        for name, split in sorted(splits.items())
        if is_eval_split(split)
    ]


def split_warning_line(splits: Mapping[str, str | None]) -> str:
    """All of `split_warnings` in one line ("" when none): "gsm8k (test), sciq (validation):
    targets come from the evaluation split: ..."."""
    flagged = [
        f"{name} ({split})" for name, split in sorted(splits.items()) if is_eval_split(split)
    ]
    return f"{', '.join(flagged)}: {SPLIT_WARNING}" if flagged else ""
