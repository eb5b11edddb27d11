"""What the Documents screen's workers and widgets tell it, and the document viewer's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.message import Message

from engine.api.browse import DocDetail, NearestExamples, RunIndex, View
from engine.api.columns import ColumnChoice, Where
from engine.api.contamination import DocContamination
from engine.api.labels import LabelAgreement


@dataclass
class ViewReady(Message):
    """The view (sort, filter, search) of run `index` was made; the list opens on `cursor`."""

    index: RunIndex
    view: View
    cursor: int
    choices: list[ColumnChoice] | None = None  # the corpus's columns, when read with the view


@dataclass
class ViewFailed(Message):
    """Making the view failed (the error was reported)."""


@dataclass
class Exported(Message):
    """The view was written to `path`: `rows` documents."""

    path: Path
    rows: int


@dataclass
class RowHighlighted(Message):
    """The document list's cursor is on view row `row`."""

    row: int


@dataclass
class FrequencyPicked(Message):
    """The frequency table closed: with the filter of the value picked, or None."""

    where: Where | None


@dataclass
class HeaderClicked(Message):
    """A click on the document list's title of column `column` (sort by it)."""

    column: str


@dataclass
class RowsLoaded(Message):
    """A block of the document list's rows landed, from view row `start` (tests wait for this)."""

    start: int


@dataclass
class DocDetailRead(Message):
    """The viewer's document at view row `row`: its `detail` and label `agreement`; `text` is
    what is shown of it (`broken`: long lines were broken)."""

    row: int
    detail: DocDetail
    agreement: LabelAgreement
    text: str
    broken: bool


@dataclass
class NearestRead(Message):
    """The benchmark examples nearest to document `doc_id`."""

    doc_id: int
    nearest: NearestExamples


@dataclass
class DocContaminationRead(Message):
    """What the contamination checks found in document `doc_id`."""

    doc_id: int
    found: DocContamination


@dataclass
class EmbedStarted(Message):
    """`n` on a document without vectors: job `job_id` embeds it (None: not started, `error`
    says why)."""

    doc_id: int
    job_id: int | None
    error: str | None = None


@dataclass
class Labelled(Message):
    """Document `doc_id` was labelled `label` (None: unlabelled); the new `agreement`."""

    doc_id: int
    label: str | None
    agreement: LabelAgreement
