"""The contamination check: docs/s against a bare Python set of hashed n-grams over the same
texts, measured in the same run, and its cost per doc from 10k docs up (flat per doc: a hashed
n-gram index, never a pairwise comparison).

Pipeline: the real `contamination` job run in this process (engine.api.jobs.run_here) on one
worker process: build the n-gram index of every example (13-grams), read the run's docs from
SQLite in probability order in chunks, find and verify the overlaps, write the hits with a
committed checkpoint per chunk, mark the check finished.
Baseline: the same texts already in memory, the same normalisation
(`normalized_text(t).split()`), then `hash(tuple(words[i:i + 13])) in S` for every window, S
the set of hashed 13-grams of the same examples (built inside the timing too); it only says
which windows hit (no spans, no verification, no database).
Both must flag the same docs.

The workspace: ../shared/data web docs cycled to the largest size (text-only rows, no full-text
index), the real test/validation sets of ARC, GSM8K (and its train split), HellaSwag, PIQA and
MATH-500 as benchmarks (synthetic texts when ../shared/data is absent), one example question
planted in every 500th doc, and an applied run with random probabilities. Sizes are the first
N docs of the run's order (`--keep` by docs), ascending, so no check covers the next one.

    python bench/contamination.py [--max-docs 100000] [--baseline-docs 10000] [--workers 1]
    python bench/contamination.py --max-docs 1000000    # adds 300k and 1M (minutes, GBs)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.api.contamination import contaminated_doc_ids, plan_check  # noqa: E402
from engine.api.imports import import_benchmark_files  # noqa: E402
from engine.api.jobs import queue, run_here  # noqa: E402
from engine.betr.contamination import build_index, normalized_text  # noqa: E402
from engine.store.db import transaction  # noqa: E402
from engine.store.scores import write_prob_order  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

N = 13
SIZES = (10_000, 30_000, 100_000, 300_000, 1_000_000)
PLANT_EVERY = 500
SHARED = Path(os.environ.get("BETR_SHARED_DATA", REPO.parent / "shared" / "data"))
BENCH = SHARED / "benchmarks"
BENCHMARKS = (  # name, file, split, format
    ("arc-challenge", "arc/arc_challenge_test.jsonl", "test", "auto"),
    ("arc-easy", "arc/arc_easy_test.jsonl", "test", "auto"),
    ("gsm8k", "gsm8k/test.jsonl", "test", "auto"),
    ("gsm8k-train", "gsm8k/train.jsonl", "train", "auto"),
    ("hellaswag", "hellaswag/hellaswag_val_1000.jsonl", "validation", "auto"),
    ("piqa", "piqa/piqa_val.jsonl", "validation", "auto"),
    ("math500", "math500/test.jsonl", "test", "auto"),
)


def source_texts() -> list[str]:
    """Real web docs, or Zipf-distributed synthetic ones without ../shared/data."""
    path = SHARED / "web_docs" / "combined_docs.jsonl"
    if path.exists():
        return [json.loads(line)["text"] for line in path.open(encoding="utf-8") if line.strip()]
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(30_000)]
    p = 1.0 / np.arange(1, len(vocab) + 1)
    p /= p.sum()
    return [" ".join(vocab[i] for i in rng.choice(len(vocab), 600, p=p)) for _ in range(2000)]


def import_benchmarks(ws: Workspace, tmp: Path) -> None:
    if BENCH.exists():
        for name, rel, split, fmt in BENCHMARKS:
            import_benchmark_files(ws, [str(BENCH / rel)], name, fmt=fmt, split=split)
        return
    texts = source_texts()
    path = tmp / "synthetic-bench.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(5000):
            words = texts[i % len(texts)].split()
            q = " ".join(words[(i * 7) % 400 : (i * 7) % 400 + 40]) + f" item{i}"
            fh.write(json.dumps({"id": f"s{i}", "question": q, "answer": "#### 1"}) + "\n")
    import_benchmark_files(ws, [str(path)], "synthetic", fmt="gsm8k", split="test")


def example_texts(ws: Workspace) -> list[str]:
    conn = ws.connect(readonly=True)
    try:
        return [r[0] for r in conn.execute("SELECT text FROM examples ORDER BY id")]
    finally:
        conn.close()


def build(root: Path, n_docs: int) -> tuple[Workspace, int, list[str]]:
    """A workspace with `n_docs` docs, the benchmarks and an applied run; (ws, run id, the
    docs' texts in the run's order)."""
    ws = Workspace.init(root)
    import_benchmarks(ws, root.parent)
    base = source_texts()
    questions = [q for q in example_texts(ws) if len(q.split()) >= N + 2][:2000]
    texts = []
    for i in range(n_docs):
        text = base[i % len(base)]
        if i % PLANT_EVERY == 0:  # a copied benchmark item inside a web page
            text = f"{text[:300]}\n{questions[(i // PLANT_EVERY) % len(questions)]}\n{text[300:]}"
        texts.append(text)
    conn = ws.connect()
    try:
        conn.execute("DROP TRIGGER docs_fts_insert")  # this workspace never searches its text
        now = time.time()
        with transaction(conn):
            corpus_id = conn.execute(
                "INSERT INTO corpora (name, state, created_at, tokenizer, tokenizer_sha256, "
                "text_field, n_docs) VALUES ('pool', 'ready', ?, 'bench', '-', 'text', ?)",
                (now, n_docs),
            ).lastrowid
            conn.executemany(
                "INSERT INTO docs (id, corpus_id, ext_id, text, n_tokens, n_chars, source) "
                "VALUES (?, ?, ?, ?, ?, ?, 'bench')",
                (
                    (i + 1, corpus_id, f"d{i}", t, len(t) // 4 + 1, len(t))
                    for i, t in enumerate(texts)
                ),
            )
            run_id = conn.execute(
                "INSERT INTO runs (kind, name, config, config_hash, state, corpus_id, created_at, "
                "finished_at) VALUES ('betr', 'bench', ?, 'bench', 'applied', ?, ?, ?)",
                (json.dumps({"corpus": "pool"}), corpus_id, now, now),
            ).lastrowid
            # probabilities descending with the doc id: the run's order is the texts' order
            conn.executemany(
                "INSERT INTO doc_probs (run_id, doc_id, prob) VALUES (?, ?, ?)",
                ((run_id, i + 1, 1.0 - i / (n_docs + 1)) for i in range(n_docs)),
            )
            write_prob_order(conn, run_id)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return ws, int(run_id), texts


def check(ws: Workspace, run_id: int, docs: int, total: int, workers: int) -> tuple[float, set]:
    """Seconds for the contamination job over the first `docs` docs, and the flagged doc ids."""
    plan = plan_check(ws, run_id, n=N, keep=docs / total, by="docs", workers=workers)
    assert not plan.cached and plan.upto == docs, plan
    t0 = time.perf_counter()
    run_here(ws, queue(ws, plan.spec))
    elapsed = time.perf_counter() - t0
    return elapsed, contaminated_doc_ids(ws, run_id, n=N, check_id=plan.check_id)


def baseline(examples: list[str], texts: list[str]) -> tuple[float, set]:
    """Seconds for the bare set-of-hashed-n-grams check, and the flagged doc ids (1-based)."""
    t0 = time.perf_counter()
    grams = set()
    for text in examples:
        words = normalized_text(text).split()
        grams.update(hash(tuple(words[i : i + N])) for i in range(len(words) - N + 1))
    flagged = set()
    for d, text in enumerate(texts):
        words = normalized_text(text).split()
        if [i for i in range(len(words) - N + 1) if hash(tuple(words[i : i + N])) in grams]:
            flagged.add(d + 1)
    return time.perf_counter() - t0, flagged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-docs", type=int, default=100_000, help="largest size checked")
    parser.add_argument("--baseline-docs", type=int, default=10_000, help="docs both check")
    parser.add_argument("--workers", type=int, default=1, help="processes of the check")
    args = parser.parse_args()
    nb = min(args.baseline_docs, args.max_docs)
    sizes = sorted({s for s in SIZES if s <= args.max_docs} | {args.max_docs, nb})
    with tempfile.TemporaryDirectory(prefix="bench-contamination-") as tmp:
        t0 = time.perf_counter()
        ws, run_id, texts = build(Path(tmp) / "ws", sizes[-1])
        examples = example_texts(ws)
        chars = sum(len(t) for t in texts) / len(texts)
        print(
            f"setup: {len(texts):,} docs ({chars:,.0f} chars each on average), "
            f"{len(examples):,} benchmark examples, in {time.perf_counter() - t0:.0f} s"
        )
        t0 = time.perf_counter()
        index = build_index(examples, N)
        print(f"index: {index.entries:,} {N}-grams in {time.perf_counter() - t0:.2f} s\n")

        # docs/s against the baseline on the same texts
        base_s, base_flagged = baseline(examples, texts[:nb])
        print(f"{'docs':>10} {'check s':>9} {'docs/s':>9} {'us/doc':>8} {'hit docs':>9}")
        per_doc = []
        for size in sizes:
            elapsed, flagged = check(ws, run_id, size, len(texts), args.workers)
            if size == nb:
                assert flagged == base_flagged, "the check and the baseline flag other docs"
                check_nb = elapsed
            per_doc.append(elapsed / size * 1e6)
            print(
                f"{size:>10,} {elapsed:>9.2f} {size / elapsed:>9,.0f} {per_doc[-1]:>8.1f} "
                f"{len(flagged):>9,}"
            )
        print(
            f"\nbaseline (bare Python set of hashed {N}-grams, texts in memory) on {nb:,} docs: "
            f"{nb / base_s:,.0f} docs/s; check: {nb / check_nb:,.0f} docs/s "
            f"(x{base_s / check_nb:.2f} the baseline; goal >= 1x), same {len(base_flagged)} "
            "docs flagged"
        )
        print(
            f"cost per doc from {sizes[0]:,} to {sizes[-1]:,} docs: "
            f"{per_doc[0]:.1f} -> {per_doc[-1]:.1f} us/doc (x{per_doc[-1] / per_doc[0]:.2f}; "
            "flat = about 1, the index build amortised over more docs makes it fall)"
        )


if __name__ == "__main__":
    main()
