"""What a workspace holds: corpora, benchmarks with their examples, target sets, and `meta`."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from engine.errors import NotFoundError, UsageError
from engine.names import suggest
from engine.store.db import transaction

READY = "state = 'ready' AND deleting_at IS NULL"


def _with_sources(rows: Sequence[sqlite3.Row]) -> list[dict[str, Any]]:
    """Rows as dicts, their `sources` (a JSON list) decoded."""
    return [{**dict(r), "sources": json.loads(r["sources"]) if r["sources"] else []} for r in rows]


# -- corpora ------------------------------------------------------------------------------------
def list_corpora(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """One dict per corpus: counts (docs, tokens, chars, skipped), tokenizer, state (`deleting`
    while a delete is under way), sources."""
    rows = conn.execute(
        "SELECT id, name, CASE WHEN deleting_at IS NULL THEN state ELSE 'deleting' END AS state, "
        "created_at, tokenizer, text_field, sources, n_docs, n_tokens, n_chars, n_skipped, job_id "
        "FROM corpora ORDER BY name"
    ).fetchall()
    return _with_sources(rows)


def corpus_by_name(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT id, name, state, n_docs, n_tokens, deleting_at FROM corpora WHERE name = ?",
        (name,),
    ).fetchone()


def corpus_by_id(conn: sqlite3.Connection, corpus_id: int) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT id, name, state, n_docs, n_tokens, n_chars, deleting_at FROM corpora WHERE id = ?",
        (corpus_id,),
    ).fetchone()


def corpus_names(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM corpora")]


def insert_corpus(
    conn: sqlite3.Connection,
    *,
    name: str,
    tokenizer: str,
    tokenizer_sha256: str,
    text_field: str,
    id_field: str | None,
    meta_fields: list[str],
    sources: list[str],
    job_id: int | None,
) -> int:
    """A new corpus in state `importing` (call inside a transaction); UsageError if the name
    is taken."""
    try:
        cur = conn.execute(
            "INSERT INTO corpora (name, created_at, tokenizer, tokenizer_sha256, text_field, "
            "id_field, meta_fields, sources, job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                time.time(),
                tokenizer,
                tokenizer_sha256,
                text_field,
                id_field,
                json.dumps(meta_fields),
                json.dumps(sources),
                job_id,
            ),
        )
    except sqlite3.IntegrityError:
        raise UsageError(
            f"corpus '{name}' already exists",
            fix=f"choose another --corpus name, or betr delete corpus {name}",
        ) from None
    return int(cur.lastrowid)


def add_to_corpus(
    conn: sqlite3.Connection, corpus_id: int, docs: int, tokens: int, chars: int, skipped: int
) -> None:
    """(call inside a transaction)"""
    conn.execute(
        "UPDATE corpora SET n_docs = n_docs + ?, n_tokens = n_tokens + ?, n_chars = n_chars + ?, "
        "n_skipped = ? WHERE id = ?",
        (docs, tokens, chars, skipped, corpus_id),
    )


def mark_corpus_ready(conn: sqlite3.Connection, corpus_id: int, skipped: int) -> sqlite3.Row:
    """(call inside a transaction) -> the corpus's final counts."""
    conn.execute(
        "UPDATE corpora SET state = 'ready', n_skipped = ? WHERE id = ?", (skipped, corpus_id)
    )
    return conn.execute(
        "SELECT n_docs, n_tokens, n_chars FROM corpora WHERE id = ?", (corpus_id,)
    ).fetchone()


def drop_corpus_row(conn: sqlite3.Connection, corpus_id: int) -> None:
    """(call inside a transaction; for a partial import: its docs cascade)"""
    conn.execute("DELETE FROM corpora WHERE id = ?", (corpus_id,))


def set_corpus_sources(conn: sqlite3.Connection, name: str, sources: list[str]) -> None:
    """(call inside a transaction)"""
    conn.execute("UPDATE corpora SET sources = ? WHERE name = ?", (json.dumps(sources), name))


def workspace_summary(conn: sqlite3.Connection) -> dict[str, int]:
    """Totals for the Workspace screen header."""
    row = conn.execute(
        f"SELECT (SELECT COUNT(*) FROM corpora WHERE {READY}) AS corpora, "
        f"(SELECT COALESCE(SUM(n_docs), 0) FROM corpora WHERE {READY}) AS docs, "
        f"(SELECT COALESCE(SUM(n_tokens), 0) FROM corpora WHERE {READY}) AS tokens, "
        "(SELECT COUNT(*) FROM benchmarks) AS benchmarks, "
        "(SELECT COALESCE(SUM(n_examples), 0) FROM benchmarks) AS examples, "
        "(SELECT COUNT(*) FROM target_sets) AS target_sets, "
        "(SELECT COUNT(*) FROM runs) AS runs, "
        "(SELECT COUNT(*) FROM jobs) AS jobs"
    ).fetchone()
    return dict(row)


# -- benchmarks and examples --------------------------------------------------------------------
def list_benchmarks(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """One dict per benchmark, with `text_fields`: the fields its texts were made from."""
    rows = conn.execute(
        "SELECT id, name, category, split, format, sources, n_examples, n_chars, n_skipped, "
        "created_at FROM benchmarks ORDER BY name"
    ).fetchall()
    out = _with_sources(rows)
    fields = benchmark_text_fields(conn, [b["name"] for b in out])
    for b in out:
        b["text_fields"] = fields.get(b["name"], [])
    return out


# Benchmarks imported before the text fields were recorded: question, choices (if any), answer
LEGACY_TEXT_FIELDS = ("question", "choices", "answer")
TEXT_FIELDS_KEY = "text_fields:"  # meta key prefix, + the benchmark's name


def benchmark_text_fields(conn: sqlite3.Connection, names: Sequence[str]) -> dict[str, list[str]]:
    """name -> the fields its example texts were made from (recorded at import, in `meta`)."""
    names = list(names)
    if not names:
        return {}
    rows = conn.execute(
        f"SELECT b.id, b.name, m.value, EXISTS (SELECT 1 FROM examples e WHERE "
        f"e.benchmark_id = b.id AND e.choices IS NOT NULL) AS has_choices FROM benchmarks b "
        f"LEFT JOIN meta m ON m.key = ? || b.name WHERE b.name IN ({_marks(names)})",
        [TEXT_FIELDS_KEY, *names],
    ).fetchall()
    out = {}
    for r in rows:
        recorded = json.loads(r["value"]) if r["value"] else None
        if isinstance(recorded, dict) and recorded.get("benchmark_id") == r["id"]:
            out[r["name"]] = list(recorded["fields"])
        else:
            out[r["name"]] = [f for f in LEGACY_TEXT_FIELDS if f != "choices" or r["has_choices"]]
    return out


def benchmark_ids(conn: sqlite3.Connection) -> dict[str, int]:
    """name -> id of every benchmark."""
    return {r[0]: r[1] for r in conn.execute("SELECT name, id FROM benchmarks")}


def benchmarks_named(conn: sqlite3.Connection, names: Sequence[str]) -> list[sqlite3.Row]:
    """(id, name, n_examples, split) of the benchmarks with these names, by name."""
    names = list(names)
    return conn.execute(
        f"SELECT id, name, n_examples, split FROM benchmarks WHERE name IN ({_marks(names)}) "
        "ORDER BY name",
        names,
    ).fetchall()


def benchmark_splits(conn: sqlite3.Connection) -> dict[str, str | None]:
    """name -> split of every benchmark."""
    return {r[0]: r[1] for r in conn.execute("SELECT name, split FROM benchmarks")}


def example_ids(conn: sqlite3.Connection, names: Sequence[str]) -> dict[str, list[int]]:
    """name -> its example ids in file order, for these benchmarks."""
    names = list(names)
    out: dict[str, list[int]] = {name: [] for name in names}
    rows = conn.execute(
        f"SELECT e.id, b.name FROM examples e JOIN benchmarks b ON b.id = e.benchmark_id "
        f"WHERE b.name IN ({_marks(names)}) ORDER BY b.name, e.idx",
        names,
    )
    for example_id, name in rows:
        out[name].append(int(example_id))
    return out


def target_examples(
    conn: sqlite3.Connection,
    names: Sequence[str],
    drawn: dict[str, Sequence[int]] | None = None,
) -> list[sqlite3.Row]:
    """What a BETR run scores with, as `benchmark_examples` rows in its order: every example
    of these benchmarks, or only the `drawn` ids of each (balanced targets). UsageError when
    a drawn example is gone (its benchmark was deleted or imported again)."""
    rows = benchmark_examples(conn, names)
    if drawn is None:
        return rows
    wanted = {int(i) for ids in drawn.values() for i in ids}
    rows = [r for r in rows if r["id"] in wanted]
    have = {r["id"] for r in rows}
    for name, ids in sorted(drawn.items()):
        missing = sum(1 for i in ids if int(i) not in have)
        if missing:
            raise UsageError(
                f"{missing} of the {len(ids)} examples drawn from benchmark '{name}' are gone "
                "(deleted or imported again since the run was planned)",
                fix="start a new run with betr score",
            )
    return rows


def benchmark_examples(conn: sqlite3.Connection, names: Sequence[str]) -> list[sqlite3.Row]:
    """(id, ext_id, text, question, benchmark id, benchmark name) of every example of these
    benchmarks, by benchmark name then file position: the order scoring embeds them in."""
    names = list(names)
    return conn.execute(
        "SELECT e.id, e.ext_id, e.text, e.question, b.id AS bench, b.name AS benchmark "
        f"FROM examples e JOIN benchmarks b ON b.id = e.benchmark_id WHERE b.name IN "
        f"({_marks(names)}) ORDER BY b.name, e.idx",
        names,
    ).fetchall()


def example(conn: sqlite3.Connection, example_id: int) -> dict[str, Any] | None:
    e = conn.execute(
        "SELECT e.id, e.ext_id, e.question, e.answer, e.text, b.name FROM examples e "
        "JOIN benchmarks b ON b.id = e.benchmark_id WHERE e.id = ?",
        (example_id,),
    ).fetchone()
    if e is None:
        return None
    return {
        "id": e[0],
        "ext_id": e[1],
        "question": e[2],
        "answer": e[3],
        "text": e[4],
        "benchmark": e[5],
    }


def benchmark_by_name(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    """(id, name, n_examples) of the benchmark `name`, or None."""
    return conn.execute(
        "SELECT id, name, n_examples FROM benchmarks WHERE name = ?", (name,)
    ).fetchone()


def insert_benchmark(
    conn: sqlite3.Connection,
    *,
    name: str,
    category: str | None,
    split: str | None,
    fmt: str,
    sources: list[str],
    examples: Sequence[Any],
    skipped: int,
    text_fields: Sequence[str] | None = None,
) -> int:
    """A benchmark and its examples (objects with ext_id, question, choices, answer, text,
    meta) and the fields its texts were made from, in one transaction."""
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO benchmarks (name, category, split, format, sources, n_examples, "
            "n_chars, n_skipped, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                category,
                split,
                fmt,
                json.dumps(sources),
                len(examples),
                sum(len(ex.text) for ex in examples),
                skipped,
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
                for i, ex in enumerate(examples)
            ],
        )
        if text_fields is not None:
            record = {"benchmark_id": bench_id, "fields": list(text_fields)}
            set_meta(conn, TEXT_FIELDS_KEY + name, json.dumps(record))
    return bench_id


# -- target sets --------------------------------------------------------------------------------
def list_target_sets(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT t.id, t.name, t.created_at, GROUP_CONCAT(b.name, ',') AS members, "
        "COUNT(b.id) AS n_benchmarks, COALESCE(SUM(b.n_examples), 0) AS n_examples "
        "FROM target_sets t LEFT JOIN target_set_members m ON m.target_set_id = t.id "
        "LEFT JOIN benchmarks b ON b.id = m.benchmark_id GROUP BY t.id ORDER BY t.name"
    ).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["members"] = sorted(r["members"].split(",")) if r["members"] else []
        out.append(d)
    return out


def target_set_names(conn: sqlite3.Connection) -> list[str]:
    return [r["name"] for r in conn.execute("SELECT name FROM target_sets ORDER BY name")]


def target_set(conn: sqlite3.Connection, name: str) -> tuple[int, list[str]] | None:
    """(id, member benchmark names sorted) of the target set `name`, or None."""
    row = conn.execute("SELECT id FROM target_sets WHERE name = ?", (name,)).fetchone()
    if row is None:
        return None
    names = [
        r["name"]
        for r in conn.execute(
            "SELECT b.name FROM target_set_members m JOIN benchmarks b ON b.id = m.benchmark_id "
            "WHERE m.target_set_id = ? ORDER BY b.name",
            (row["id"],),
        )
    ]
    return row["id"], names


def insert_target_set(conn: sqlite3.Connection, name: str, benchmark_ids: Sequence[int]) -> int:
    """A new target set (UsageError if the name is taken), in one transaction."""
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
            [(cur.lastrowid, i) for i in benchmark_ids],
        )
    return int(cur.lastrowid)


# -- meta ---------------------------------------------------------------------------------------
def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    """(call inside a transaction)"""
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def claim_meta(conn: sqlite3.Connection, key: str, value: str) -> bool:
    """Set `key` unless it is set already, in one transaction; True if this call set it."""
    with transaction(conn):
        if conn.execute("SELECT 1 FROM meta WHERE key = ?", (key,)).fetchone():
            return False
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
    return True


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def not_found_corpus(conn: sqlite3.Connection, name: str) -> NotFoundError:
    fix = suggest(name, corpus_names(conn), "corpus", plural="corpora", listing="betr list corpora")
    return NotFoundError(f"no corpus '{name}'", fix=fix)


def choice_examples(conn: sqlite3.Connection, benchmark_id: int) -> list[dict[str, Any]]:
    """Examples of a benchmark that have choices, in file order: dicts with id, ext_id,
    question, choices (list), answer, meta (dict or None)."""
    rows = conn.execute(
        "SELECT id, ext_id, question, choices, answer, meta FROM examples "
        "WHERE benchmark_id = ? AND choices IS NOT NULL ORDER BY idx",
        (benchmark_id,),
    ).fetchall()
    return [
        {
            **dict(r),
            "choices": json.loads(r["choices"]),
            "meta": json.loads(r["meta"]) if r["meta"] else None,
        }
        for r in rows
    ]
