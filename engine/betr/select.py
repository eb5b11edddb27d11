"""Keep the top X% of a corpus by p(positive), by tokens (default) or by docs, and export it.

The cut is a binary search on `prob_order.cum_tokens` (indexed), so any keep rate costs
O(log n). By tokens, the doc that crosses the target is kept (the kept share is the smallest
prefix holding at least X% of the tokens); ties in probability are ordered by doc id.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.betr.runs import get_run, require_state
from engine.errors import UsageError


@dataclass
class Selection:
    run_id: int
    keep: float  # fraction in (0, 1]
    by: str
    position: int  # docs kept: prob_order positions 1..position
    kept_tokens: int
    total_tokens: int
    total_docs: int
    threshold: float  # p(positive) of the last kept doc

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["kept_docs"] = self.position
        d["kept_token_share"] = self.kept_tokens / self.total_tokens if self.total_tokens else 0
        return d


def parse_keep(text: str | float) -> float:
    """ "10%" or "10" -> 0.10 (percent); must lie in (0, 100]."""
    raw = str(text).strip()
    try:
        value = float(raw.rstrip("%"))
    except ValueError:
        raise UsageError(f"--keep '{text}' is not a percentage", fix="e.g. --keep 10%") from None
    if not 0.0 < value <= 100.0:
        raise UsageError(
            f"--keep must be above 0% and at most 100%, got {raw}", fix="e.g. --keep 10%"
        )
    return value / 100.0


def select(conn: sqlite3.Connection, run_id: int, keep: float, by: str = "tokens") -> Selection:
    if by not in ("tokens", "docs"):
        raise UsageError(f"--by must be tokens or docs, got '{by}'")
    run = get_run(conn, run_id)
    require_state(run, "applied", action="select documents")
    total = conn.execute(
        "SELECT COUNT(*), COALESCE(MAX(cum_tokens), 0) FROM prob_order WHERE run_id = ?",
        (run_id,),
    ).fetchone()
    n_docs, n_tokens = total[0], total[1]
    if n_docs == 0:
        raise UsageError(f"run {run_id} has no scored documents", fix="apply it again")
    if by == "docs":
        position = max(1, math.ceil(keep * n_docs - 1e-9))
    else:
        target = keep * n_tokens
        row = conn.execute(
            "SELECT MIN(position) FROM prob_order WHERE run_id = ? AND cum_tokens >= ?",
            (run_id, target - 1e-9),
        ).fetchone()
        position = row[0] or n_docs
    row = conn.execute(
        "SELECT prob, cum_tokens FROM prob_order WHERE run_id = ? AND position = ?",
        (run_id, position),
    ).fetchone()
    return Selection(run_id, keep, by, position, row["cum_tokens"], n_tokens, n_docs, row["prob"])


def export_selection(
    conn: sqlite3.Connection,
    sel: Selection,
    out: Path,
    *,
    replay: float = 0.0,
    seed: int = 0,
    fmt: str | None = None,
) -> dict[str, Any]:
    """Write the kept docs (and `replay` x as many random non-kept docs, marked) to JSONL or
    Parquet, with the run's provenance on every row."""
    if not 0.0 <= replay <= 1.0:
        raise UsageError(f"--replay must be between 0 and 1, got {replay}")
    fmt = fmt or ("parquet" if out.suffix == ".parquet" else "jsonl")
    run = get_run(conn, sel.run_id)
    cfg = run["config"]
    replay_positions: list[int] = []
    if replay > 0 and sel.position < sel.total_docs:
        n_replay = min(round(replay * sel.position), sel.total_docs - sel.position)
        rng = np.random.default_rng(seed)
        replay_positions = sorted(
            int(p)
            for p in rng.choice(
                np.arange(sel.position + 1, sel.total_docs + 1), size=n_replay, replace=False
            )
        )
    provenance = {
        "run_id": sel.run_id,
        "config_hash": run["config_hash"],
        "corpus": cfg["corpus"],
        "targets": cfg["targets"],
        "embedder": cfg["model_id"],
        "keep": sel.keep,
        "by": sel.by,
        "threshold": sel.threshold,
    }
    rows = list(_rows(conn, sel, replay_positions, provenance))
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), out)
    elif fmt == "jsonl":
        with open(out, "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    else:
        raise UsageError(f"unknown export format '{fmt}'", fix="use a .jsonl or .parquet path")
    return {
        **sel.as_dict(),
        "out": str(out),
        "format": fmt,
        "replay_docs": len(replay_positions),
        "rows": len(rows),
    }


def _rows(conn, sel: Selection, replay_positions: list[int], provenance: dict[str, Any]):
    query = (
        "SELECT o.position, o.doc_id, o.prob, o.n_tokens, d.ext_id, d.text, d.source, d.meta "
        "FROM prob_order o JOIN docs d ON d.id = o.doc_id WHERE o.run_id = ? "
    )
    for r in conn.execute(
        query + "AND o.position <= ? ORDER BY o.position", (sel.run_id, sel.position)
    ):
        yield _row(r, False, provenance)
    for start in range(0, len(replay_positions), 500):
        part = replay_positions[start : start + 500]
        for r in conn.execute(
            query + f"AND o.position IN ({','.join('?' * len(part))}) ORDER BY o.position",
            (sel.run_id, *part),
        ):
            yield _row(r, True, provenance)


def _row(r: sqlite3.Row, replay: bool, provenance: dict[str, Any]) -> dict[str, Any]:
    return {
        "doc_id": r["doc_id"],
        "id": r["ext_id"],
        "text": r["text"],
        "prob": r["prob"],
        "rank": r["position"],
        "n_tokens": r["n_tokens"],
        "source": r["source"],
        "meta": json.loads(r["meta"]) if r["meta"] else None,
        "replay": replay,
        "provenance": provenance,
    }
