"""Hand labels on documents (good, bad, skip): set from the document viewer or `betr labels
set`, listed and exported, and compared with a run's classifier at the current threshold."""

from __future__ import annotations

import csv
import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from engine.api.records import Record
from engine.betr.doclabels import LABELS as LABELS  # the labels, for the faces
from engine.betr.doclabels import label_agreement as _label_agreement
from engine.betr.runindex import RunIndex
from engine.errors import NotFoundError, UsageError
from engine.store import docs, labels, scores
from engine.workspace import Workspace, open_private

EXPORT_FIELDS = [
    "doc_id",
    "ext_id",
    "corpus",
    "source",
    "label",
    "labelled_in",
    "prob_when_labelled",
    "prob",
    "created_at",
]


def set_label(
    conn: sqlite3.Connection,
    doc_id: int,
    label: str | None,
    *,
    run_id: int | None = None,
    prob: float | None = None,
) -> None:
    """Label a doc (None clears its label); `prob` defaults to its p(positive) in `run_id`."""
    if label is not None and label not in LABELS:
        raise UsageError(f"unknown label '{label}'", fix=f"use one of: {', '.join(LABELS)}")
    if not docs.doc_exists(conn, doc_id):
        raise NotFoundError(f"no doc {doc_id}")
    if prob is None and run_id is not None:
        prob = scores.prob_of(conn, run_id, doc_id)
    labels.set_label(conn, doc_id, label, run_id, prob)


def label_doc(
    workspace: Workspace, doc_id: int, label: str | None, run_id: int | None = None
) -> None:
    with closing(workspace.connect()) as conn:
        set_label(conn, doc_id, label, run_id=run_id)


@dataclass(frozen=True)
class LabelRow(Record):
    """A hand label with its doc (the fields of EXPORT_FIELDS, in that order)."""

    doc_id: int
    ext_id: str
    corpus: str
    source: str
    label: str  # one of LABELS
    labelled_in: int | None  # the run it was labelled in
    prob_when_labelled: float | None  # p(positive) in that run then
    prob: float | None  # p(positive) in the run asked for (None: none asked, or not applied)
    created_at: float  # unix seconds


@dataclass(frozen=True)
class LabelsExported(Record):
    out: str
    format: str  # jsonl | csv
    rows: int
    good: int  # the counts per label (LABELS)
    bad: int
    skip: int


def list_labels(conn: sqlite3.Connection, run_id: int | None = None) -> list[LabelRow]:
    """Every label with its doc, and p(positive) in `run_id` when given (None where absent)."""
    return [LabelRow(**r) for r in labels.list_labels(conn, run_id)]


def export_labels(
    conn: sqlite3.Connection, out: Path, *, run_id: int | None = None, fmt: str | None = None
) -> LabelsExported:
    fmt = fmt or ("csv" if out.suffix == ".csv" else "jsonl")
    if fmt not in ("csv", "jsonl"):
        raise UsageError(f"unknown labels format '{fmt}'", fix="use a .jsonl or .csv path")
    rows = [r.to_json() for r in list_labels(conn, run_id)]
    out.parent.mkdir(parents=True, exist_ok=True)
    with open_private(out, "w", encoding="utf-8", newline="") as fh:
        if fmt == "jsonl":
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(fh, fieldnames=EXPORT_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    counts = {k: sum(r["label"] == k for r in rows) for k in LABELS}
    return LabelsExported(str(out), fmt, len(rows), **counts)


@dataclass(frozen=True)
class LabelAgreement:
    """The run's hand-labelled docs by label, and how many good-and-kept plus bad-and-dropped
    (`agree`); agreement = agree / (good + bad), None without a threshold or a judged doc;
    the mean p(positive) of the good and of the bad ones (None: none)."""

    good: int = 0
    bad: int = 0
    skip: int = 0
    agree: int = 0
    agreement: float | None = None
    mean_prob_good: float | None = None
    mean_prob_bad: float | None = None


def label_agreement(conn: sqlite3.Connection, index: RunIndex, cut: int | None) -> LabelAgreement:
    """Hand labels of the run's docs vs the classifier at the threshold (`cut` kept rows)."""
    return LabelAgreement(**_label_agreement(labels.all_labels(conn), index, cut))


def labels_of_workspace(workspace: Workspace, run_id: int | None = None) -> list[LabelRow]:
    with closing(workspace.connect(readonly=True)) as conn:
        return list_labels(conn, run_id)


def export_workspace_labels(
    workspace: Workspace, out: Path, *, run_id: int | None = None, fmt: str | None = None
) -> LabelsExported:
    with closing(workspace.connect(readonly=True)) as conn:
        return export_labels(conn, out, run_id=run_id, fmt=fmt)
