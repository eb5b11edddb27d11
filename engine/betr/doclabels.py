"""Hand labels on documents (good, bad, skip): set from the document viewer, exported with
`betr labels export`, and compared with a run's classifier at the current threshold."""

from __future__ import annotations

import csv
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.betr.browse import RunIndex
from engine.errors import NotFoundError, UsageError
from engine.store.db import transaction

LABELS = ("good", "bad", "skip")


def set_label(
    conn: sqlite3.Connection,
    doc_id: int,
    label: str | None,
    *,
    run_id: int | None = None,
    prob: float | None = None,
) -> None:
    """Label a doc (None clears its label)."""
    if label is not None and label not in LABELS:
        raise UsageError(f"unknown label '{label}'", fix=f"use one of: {', '.join(LABELS)}")
    if conn.execute("SELECT 1 FROM docs WHERE id = ?", (doc_id,)).fetchone() is None:
        raise NotFoundError(f"no doc {doc_id}")
    with transaction(conn):
        if label is None:
            conn.execute("DELETE FROM doc_labels WHERE doc_id = ?", (doc_id,))
        else:
            conn.execute(
                "INSERT INTO doc_labels (doc_id, label, run_id, prob, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (doc_id) DO UPDATE SET label = excluded.label, "
                "run_id = excluded.run_id, prob = excluded.prob, created_at = excluded.created_at",
                (doc_id, label, run_id, prob, time.time()),
            )


def list_labels(conn: sqlite3.Connection, run_id: int | None = None) -> list[dict[str, Any]]:
    """Every label with its doc, and p(positive) in `run_id` when given (None where absent)."""
    prob = "p.prob" if run_id is not None else "NULL"
    join = "LEFT JOIN doc_probs p ON p.doc_id = l.doc_id AND p.run_id = ?" if run_id else ""
    rows = conn.execute(
        f"SELECT l.doc_id, d.ext_id, c.name AS corpus, d.source, l.label, l.run_id AS labelled_in, "
        f"l.prob AS prob_when_labelled, {prob} AS prob, l.created_at FROM doc_labels l "
        f"JOIN docs d ON d.id = l.doc_id JOIN corpora c ON c.id = d.corpus_id {join} "
        "ORDER BY l.created_at, l.doc_id",
        (run_id,) if run_id else (),
    ).fetchall()
    return [dict(r) for r in rows]


def export_labels(
    conn: sqlite3.Connection, out: Path, *, run_id: int | None = None, fmt: str | None = None
) -> dict[str, Any]:
    fmt = fmt or ("csv" if out.suffix == ".csv" else "jsonl")
    if fmt not in ("csv", "jsonl"):
        raise UsageError(f"unknown labels format '{fmt}'", fix="use a .jsonl or .csv path")
    rows = list_labels(conn, run_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="") as fh:
        if fmt == "jsonl":
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(
                fh,
                fieldnames=[
                    "doc_id",
                    "ext_id",
                    "corpus",
                    "source",
                    "label",
                    "labelled_in",
                    "prob_when_labelled",
                    "prob",
                    "created_at",
                ],
            )
            writer.writeheader()
            writer.writerows(rows)
    counts = {k: sum(r["label"] == k for r in rows) for k in LABELS}
    return {"out": str(out), "format": fmt, "rows": len(rows), **counts}


def label_agreement(conn: sqlite3.Connection, index: RunIndex, cut: int | None) -> dict[str, Any]:
    """Hand labels of the run's docs vs the classifier at the threshold (`cut` kept rows):
    agreement = (good and kept + bad and dropped) / (good + bad)."""
    labels = conn.execute("SELECT doc_id, label FROM doc_labels").fetchall()
    out: dict[str, Any] = {"good": 0, "bad": 0, "skip": 0, "agree": 0, "agreement": None}
    if not labels:
        return out
    ids = np.array([r[0] for r in labels], dtype=np.int64)
    names = [r[1] for r in labels]
    rows = index.rows_of_docs(ids)
    row_of = dict(zip(index.doc_id[rows].tolist(), rows.tolist(), strict=True))
    mean: dict[str, list[float]] = {"good": [], "bad": []}
    for doc_id, label in zip(ids.tolist(), names, strict=True):
        row = row_of.get(doc_id)
        if row is None:
            continue
        out[label] += 1
        if label == "skip" or cut is None:
            continue
        kept = row < cut
        out["agree"] += int(kept == (label == "good"))
        if not np.isnan(index.prob[row]):
            mean[label].append(float(index.prob[row]))
    judged = out["good"] + out["bad"]
    if judged and cut is not None:
        out["agreement"] = out["agree"] / judged
    out["mean_prob_good"] = float(np.mean(mean["good"])) if mean["good"] else None
    out["mean_prob_bad"] = float(np.mean(mean["bad"])) if mean["bad"] else None
    return out
