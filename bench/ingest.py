"""Import throughput vs the unavoidable work done bare, measured in the same run.

Pipeline: `betr import docs` (the real job: read JSONL, parse, tokenize with the GPT-NeoX
tokenizer, insert rows + FTS5 index, chunked commits with progress).
Baseline: the same tokenizer's `encode_batch_fast` (else `encode_batch`) over the same texts (already in memory), plus
one `sqlite3.executemany` of the same rows into an equivalent table with the same FTS5
triggers, in one transaction. Reading and JSON parsing are not in the baseline.

    python bench/ingest.py [--docs 200000] [--source ../shared/data/web_docs/combined_docs.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.api.imports import import_docs_spec  # noqa: E402
from engine.api.jobs import queue, run_here  # noqa: E402
from engine.store.schema import MIGRATIONS  # noqa: E402
from engine.tokenize import load_tokenizer  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

DEFAULT_SOURCE = (
    Path(os.environ.get("BETR_SHARED_DATA", REPO.parent / "shared" / "data"))
    / "web_docs"
    / "combined_docs.jsonl"
)


def replicate(source: Path, n_docs: int, out: Path) -> list[dict]:
    """Write `n_docs` records cycling over `source` with unique ids; return them."""
    base = [json.loads(line) for line in source.open(encoding="utf-8") if line.strip()]
    records = []
    with open(out, "w", encoding="utf-8") as fh:
        for i in range(n_docs):
            rec = dict(base[i % len(base)])
            rec["id"] = f"{rec['id']}-r{i // len(base)}"
            records.append(rec)
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return records


def baseline(records: list[dict], db_path: Path) -> float:
    """Seconds for encode_batch + executemany (+ FTS5 triggers) of the same rows."""
    tok = load_tokenizer(None)._tokenizer  # the raw tokenizers.Tokenizer
    texts = [r["text"] for r in records]
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(MIGRATIONS[0])
    conn.execute(
        "INSERT INTO corpora (id, name, created_at, tokenizer, tokenizer_sha256, text_field) "
        "VALUES (1, 'b', 0, 't', 's', 'text')"
    )
    # the fastest bare call the installed tokenizers offers (the pipeline uses the same one)
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
    t0 = time.perf_counter()
    counts = [len(e.ids) for e in encode(texts, add_special_tokens=False)]
    t_tok = time.perf_counter() - t0
    rows = [
        (1, r["id"], r["text"], n, len(r["text"]), f"f:{i + 1}", None)
        for i, (r, n) in enumerate(zip(records, counts, strict=True))
    ]
    t1 = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO docs (corpus_id, ext_id, text, n_tokens, n_chars, source, meta) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")
    t_db = time.perf_counter() - t1
    conn.close()
    print(f"  baseline: {encode.__name__} {t_tok:.1f} s + executemany/FTS5 {t_db:.1f} s")
    return t_tok + t_db


def pipeline(path: Path, ws_root: Path) -> tuple[float, dict]:
    ws = Workspace.init(ws_root)
    spec = import_docs_spec(ws, corpus="bench", paths=[str(path)], meta_fields=["source"])
    job_id = queue(ws, spec)
    t0 = time.perf_counter()
    result = run_here(ws, job_id)
    return time.perf_counter() - t0, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    args = ap.parse_args()
    if not args.source.is_file():
        sys.exit(f"bench needs {args.source} (set BETR_SHARED_DATA)")
    with tempfile.TemporaryDirectory(prefix="betr-bench-") as tmp:
        tmp = Path(tmp)
        src = tmp / "docs.jsonl"
        records = replicate(args.source, args.docs, src)
        mb = src.stat().st_size / 1e6
        print(f"{args.docs} docs, {mb:.0f} MB of JSONL ({os.cpu_count()} cores)")
        t_base = baseline(records, tmp / "baseline.sqlite")
        del records
        t_pipe, result = pipeline(src, tmp / "ws")
        assert result["docs"] == args.docs, result
        print(f"  pipeline: {t_pipe:.1f} s, {result['tokens']} tokens")
        print(
            f"pipeline {args.docs / t_pipe:,.0f} docs/s {mb / t_pipe:.1f} MB/s | "
            f"baseline {args.docs / t_base:,.0f} docs/s {mb / t_base:.1f} MB/s | "
            f"ratio {t_base / t_pipe:.2f}x of baseline (goal >= 0.7x)"
        )


if __name__ == "__main__":
    main()
