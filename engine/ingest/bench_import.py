"""`betr import bench`: one benchmark's examples into the workspace, in one transaction."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError, UsageError
from engine.ingest.sources import Source
from engine.store.db import transaction
from engine.terminal import check_name
from engine.workspace import Workspace


@dataclass
class BenchImportResult:
    benchmark: str
    benchmark_id: int
    format: str
    examples: int
    skipped: int
    skipped_examples: list[str]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def import_benchmark(
    workspace: Workspace,
    sources: list[Source],
    name: str,
    *,
    category: str | None = None,
    split: str | None = None,
    fmt: str = "auto",
    field_map: dict[str, str] | None = None,
    skip_bad: bool = False,
) -> BenchImportResult:
    from engine.ingest.benchmarks import read_benchmark

    if not name or not name.strip():
        raise UsageError("the benchmark name is empty", fix="pass --name NAME")
    check_name("benchmark", name)
    conn = workspace.connect()
    try:
        row = conn.execute("SELECT n_examples FROM benchmarks WHERE name = ?", (name,)).fetchone()
        if row is not None:
            raise UsageError(
                f"benchmark '{name}' already exists ({row['n_examples']} examples)",
                fix=f"choose another --name, or delete it first: betr delete benchmark {name}",
            )
        skipped: list[InputError] = []
        read = read_benchmark(
            sources, fmt, field_map=field_map, skip_bad=skip_bad, on_skip=skipped.append
        )
        skipped = read.skipped or skipped
        with transaction(conn):
            cur = conn.execute(
                "INSERT INTO benchmarks (name, category, split, format, sources, n_examples, "
                "n_chars, n_skipped, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    category,
                    split,
                    read.format,
                    json.dumps([s.name for s in sources]),
                    len(read.examples),
                    sum(len(ex.text) for ex in read.examples),
                    len(skipped),
                    time.time(),
                ),
            )
            bench_id = int(cur.lastrowid)
            conn.executemany(
                "INSERT INTO examples (benchmark_id, idx, ext_id, question, choices, answer, "
                "text, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        bench_id,
                        i,
                        ex.ext_id,
                        ex.question,
                        json.dumps(ex.choices, ensure_ascii=False) if ex.choices else None,
                        ex.answer,
                        ex.text,
                        json.dumps(ex.meta, ensure_ascii=False) if ex.meta else None,
                    )
                    for i, ex in enumerate(read.examples)
                ],
            )
    finally:
        conn.close()
    return BenchImportResult(
        benchmark=name,
        benchmark_id=bench_id,
        format=read.format,
        examples=len(read.examples),
        skipped=len(skipped),
        skipped_examples=[str(e).split("\n  fix:")[0] for e in skipped[:20]],
    )
