"""Target sets: named groups of benchmarks a BETR run scores documents against."""

from __future__ import annotations

import sqlite3
import time

from engine.errors import NotFoundError, UsageError
from engine.store.db import transaction
from engine.terminal import check_name


def parse_names(spec: str) -> list[str]:
    return [name.strip() for name in spec.split(",") if name.strip()]


def benchmark_ids(conn: sqlite3.Connection, names: list[str]) -> dict[str, int]:
    """name -> id for each name; a clear error naming the unknown ones."""
    rows = {r["name"]: r["id"] for r in conn.execute("SELECT id, name FROM benchmarks")}
    unknown = [n for n in names if n not in rows]
    if unknown:
        known = ", ".join(sorted(rows)) or "none yet (betr import bench)"
        raise NotFoundError(
            f"unknown benchmark(s): {', '.join(unknown)}", fix=f"known benchmarks: {known}"
        )
    return {n: rows[n] for n in names}


def create_target_set(conn: sqlite3.Connection, name: str, bench_spec: str) -> dict:
    names = parse_names(bench_spec)
    if not name.strip():
        raise UsageError("the target set name is empty", fix="betr targets create NAME --bench a,b")
    check_name("target set", name)
    if not names:
        raise UsageError("the target set is empty", fix="list benchmarks: --bench arc-easy,gsm8k")
    if len(set(names)) != len(names):
        raise UsageError(f"a benchmark is listed twice in '{bench_spec}'")
    ids = benchmark_ids(conn, names)
    with transaction(conn):
        if conn.execute("SELECT 1 FROM target_sets WHERE name = ?", (name,)).fetchone():
            raise UsageError(
                f"target set '{name}' already exists", fix="choose another name (betr targets list)"
            )
        cur = conn.execute(
            "INSERT INTO target_sets (name, created_at) VALUES (?, ?)", (name, time.time())
        )
        conn.executemany(
            "INSERT INTO target_set_members (target_set_id, benchmark_id) VALUES (?, ?)",
            [(cur.lastrowid, i) for i in ids.values()],
        )
    return {"target_set": name, "id": cur.lastrowid, "benchmarks": sorted(names)}


def resolve_targets(conn: sqlite3.Connection, spec: str) -> tuple[int | None, list[str]]:
    """A target set name, or a comma list of benchmark names -> (set id or None, names)."""
    row = conn.execute("SELECT id FROM target_sets WHERE name = ?", (spec.strip(),)).fetchone()
    if row is not None:
        names = [
            r["name"]
            for r in conn.execute(
                "SELECT b.name FROM target_set_members m JOIN benchmarks b "
                "ON b.id = m.benchmark_id WHERE m.target_set_id = ? ORDER BY b.name",
                (row["id"],),
            )
        ]
        if not names:
            raise UsageError(
                f"target set '{spec}' is empty", fix="create one with benchmarks in it"
            )
        return row["id"], names
    names = parse_names(spec)
    if not names:
        raise UsageError("empty target set", fix="pass --targets SET or --targets bench1,bench2")
    if len(names) == 1 and spec.strip() == names[0]:
        # one bare name may have meant a target set: say it is neither
        benches = [r["name"] for r in conn.execute("SELECT name FROM benchmarks ORDER BY name")]
        if names[0] not in benches:
            sets = [r["name"] for r in conn.execute("SELECT name FROM target_sets ORDER BY name")]
            raise NotFoundError(
                f"no target set or benchmark named '{names[0]}'",
                fix=f"target sets: {', '.join(sets) or 'none yet'}; benchmarks: "
                f"{', '.join(benches) or 'none yet (betr import bench)'}; create a set with "
                f"betr targets create {names[0]} --bench b1,b2",
            )
    benchmark_ids(conn, names)
    return None, sorted(set(names))
