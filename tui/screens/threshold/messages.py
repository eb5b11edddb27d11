"""What the Threshold screen's workers and widgets tell it (or themselves, from a thread worker),
and the keys its reads are for. A read's answer carries the key it was read for, so a widget
drops one the user has left (the tabs' answers are `tui.screens.tab.Answered`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from engine.api.browse import RunIndex
from engine.api.tradeoff import Budget

KeepKey = tuple[int, float, str]  # (run id, keep rate, "tokens" or "docs"): what a read is for
CompareKey = tuple[int, int, float, str]  # (run A, run B, keep rate, by)
# a doc listed by the Compare tab: (doc id, external id, p(positive), snippet)
ListedDoc = tuple[int, str, float, str]


@dataclass
class OpenDoc(Message):
    """Open `doc_id` of run `run_id` in the document viewer; ] and [ walk `doc_ids`."""

    doc_ids: list[int]
    doc_id: int
    run_id: int


@dataclass
class IndexLoaded(Message):
    """Run `run_id`'s index (None: not loaded, `error` says why); `extra`: its histogram and
    keep curve, computed once per run."""

    run_id: int
    index: RunIndex | None
    error: str | None
    extra: dict[str, Any]


@dataclass
class KeepPicked(Message):
    """A click or drag on the keep bar picked `percent`."""

    percent: float


@dataclass
class BudgetChanged(Message):
    """The compute panel's budget was edited."""

    budget: Budget


@dataclass
class ContaminationRead(Message):
    """The contamination line's text for `key`."""

    key: KeepKey
    text: Text


@dataclass
class ContaminationStarted(Message):
    """`x`: the kept set's check runs as job `job_id` (None: not started); `note` says so."""

    job_id: int | None
    note: str


def table_doc_ids(table: DataTable[Any]) -> list[int]:
    """The doc ids a table lists (its row keys), in display order."""
    return [int(key.value) for key in table.rows if key.value is not None]
