"""What a BETR run is, independent of where it is stored: its states, the cache key of its
config, and the checks that say which step a run is ready for (its aggregations are the registry
engine.betr.similarity.AGGREGATIONS)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from engine.errors import UsageError

DEFAULT_SAMPLE = 100_000
RUN_STATES = ("pending", "scored", "trained", "applied")


def config_hash(config: dict[str, Any]) -> str:
    """The cache key: the same config over the same inputs (named by content) hashes the same."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def check_fraction(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise UsageError(f"{name} must be between 0 and 1 (exclusive), got {value}")


def require_state(run: dict[str, Any], *states: str, action: str) -> None:
    """The run is in one of `states` and its corpus is not being deleted."""
    require_corpus(run, action)
    if run["state"] not in states:
        hint = {
            "pending": "score it first (its score job); betr jobs list",
            "scored": f"train it first: betr train --run {run['id']}",
            "trained": f"apply it first: betr apply --run {run['id']}",
        }.get(run["state"], "")
        raise UsageError(f"run {run['id']} is {run['state']}; cannot {action}", fix=hint or None)


def require_corpus(run: dict[str, Any], action: str) -> None:
    if run.get("corpus_deleting"):
        raise UsageError(
            f"run {run['id']}'s corpus '{run['corpus']}' is being deleted; cannot {action}",
            fix=f"finish the delete: betr delete corpus {run['corpus']}",
        )
