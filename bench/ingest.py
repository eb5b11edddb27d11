"""Import throughput vs the tokenizer alone on every core, measured in the same run.

Pipeline: `betr import docs` (the real job: read JSONL, parse, tokenize with the GPT-NeoX
tokenizer on every core while the one writer inserts the previous chunk's rows + FTS5 index,
chunked commits with progress); then the same import with the FTS5 trigger dropped, to show
the index's share.
Baseline: the same tokenizer's `encode_batch_fast` (else `encode_batch`) over the same texts
already in memory, on as many threads as the pipeline's (`engine.tokenize.encode_threads`):
the limit, since the writer overlaps the tokenizer. The writer alone (one executemany of the
same rows with the FTS5 triggers, in one transaction) is printed beside it.

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
from engine.tokenize import encode_threads, load_tokenizer  # noqa: E402
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


def tokenize_alone(texts: list[str]) -> float:
    """Seconds for the tokenizer's batch encode of `texts` on every core: the baseline."""
    tok = load_tokenizer(None)._tokenizer  # the raw tokenizers.Tokenizer
    # the fastest bare call the installed tokenizers offers (the pipeline uses the same one)
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
    t0 = time.perf_counter()
    counts = [len(e.ids) for e in encode(texts, add_special_tokens=False)]
    elapsed = time.perf_counter() - t0
    assert len(counts) == len(texts)
    return elapsed


def insert_alone(records: list[dict], db_path: Path) -> float:
    """Seconds for one executemany of the same rows (+ the FTS5 triggers) in one transaction,
    token counts made up: what the writer does, alone."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(MIGRATIONS[0])
    conn.execute(
        "INSERT INTO corpora (id, name, created_at, tokenizer, tokenizer_sha256, text_field) "
        "VALUES (1, 'b', 0, 't', 's', 'text')"
    )
    rows = [
        (1, r["id"], r["text"], len(r["text"]) // 4, len(r["text"]), f"f:{i + 1}", None)
        for i, r in enumerate(records)
    ]
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO docs (corpus_id, ext_id, text, n_tokens, n_chars, source, meta) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def pipeline(path: Path, ws_root: Path, fts: bool = True) -> tuple[float, dict]:
    ws = Workspace.init(ws_root)
    if not fts:  # what the import costs without the full-text index
        conn = ws.connect()
        conn.execute("DROP TRIGGER docs_fts_insert")
        conn.close()
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
        threads = encode_threads()
        print(
            f"{args.docs} docs, {mb:.0f} MB of JSONL; the tokenizer on {threads} thread(s) in "
            f"the pipeline and the baseline ({os.cpu_count()} cores)"
        )
        t_tok = tokenize_alone([r["text"] for r in records])
        t_db = insert_alone(records, tmp / "alone.sqlite")
        del records
        print(
            f"  baseline: tokenizer alone {t_tok:.1f} s (writer alone, insert + FTS5: {t_db:.1f} s)"
        )
        t_pipe, result = pipeline(src, tmp / "ws")
        assert result["docs"] == args.docs, result
        assert result["tokenizer_threads"] == threads, result
        t_plain, _ = pipeline(src, tmp / "ws-no-fts", fts=False)
        print(
            f"  pipeline: {t_pipe:.1f} s, {result['tokens']} tokens; without the FTS5 index "
            f"{t_plain:.1f} s (the index: {1 - t_plain / t_pipe:.0%} of the import)"
        )
        print(
            f"pipeline {args.docs / t_pipe:,.0f} docs/s {mb / t_pipe:.1f} MB/s | "
            f"baseline {args.docs / t_tok:,.0f} docs/s {mb / t_tok:.1f} MB/s | "
            f"ratio {t_tok / t_pipe:.2f}x of the tokenizer alone on {threads} thread(s) "
            "(goal >= 0.8x)"
        )


if __name__ == "__main__":
    main()
