"""A generated, fully deterministic applied BETR run, written straight into a workspace.

It fills only what the browsing screens read: a corpus of short docs, target benchmarks with a
few examples, the scored sample (rank scores, best example, labels), p(positive) for every doc,
prob_order and the packed run columns. `bench/tui.py` builds a million-doc one; the TUI tests
and snapshots build small ones (real fastText training is not deterministic across threads, so
snapshots cannot use a trained run).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from engine.betr.runs import config_hash
from engine.store.db import transaction
from engine.store.scores import write_prob_order
from engine.workspace import Workspace

WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which "
    "but have an they you were her she there one all we can their has been if more when will "
    "would who so no energy cell protein equation theorem proof river history market language "
    "question answer science reading number city water system model data learning reasoning "
    "algebra geometry molecule planet court music village student teacher doctor patient"
).split()
BENCHMARKS = ("arc-challenge", "gsm8k", "hellaswag", "mmlu")
LANGS = ("en", "en", "en", "de", "fr")


def make_text(rng: np.random.Generator, n_words: int) -> str:
    words = rng.choice(len(WORDS), size=n_words)
    return " ".join(WORDS[i] for i in words).capitalize() + "."


def make_synthetic_run(
    ws: Workspace,
    n_docs: int,
    *,
    n_sample: int | None = None,
    seed: int = 0,
    corpus: str = "synthetic",
    targets: str = "synthetic-targets",
    benchmarks: tuple[str, ...] = BENCHMARKS,
    words: int = 24,
    chunk: int = 50_000,
    prob_decimals: int = 6,
) -> int:
    """Create corpus `corpus` (if missing) and one applied run over it; returns the run id.
    A second call with another `targets` name adds a second run over the same corpus."""
    rng = np.random.default_rng(seed)
    n_sample = min(n_docs, n_sample if n_sample is not None else max(10, n_docs // 10))
    conn = ws.connect()
    try:
        now = time.time()
        with transaction(conn):
            corpus_id = _corpus(conn, rng, corpus, n_docs, words, chunk, now)
            bench_ids = _benchmarks(conn, rng, benchmarks, now)
            conn.execute(
                "INSERT OR IGNORE INTO target_sets (name, created_at) VALUES (?, ?)",
                (targets, now),
            )
            set_id = conn.execute(
                "SELECT id FROM target_sets WHERE name = ?", (targets,)
            ).fetchone()[0]
            conn.executemany(
                "INSERT OR IGNORE INTO target_set_members VALUES (?, ?)",
                [(set_id, b) for b in bench_ids.values()],
            )
            doc_ids = np.array(
                [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM docs WHERE corpus_id = ? ORDER BY id", (corpus_id,)
                    )
                ],
                dtype=np.int64,
            )
            config = {
                "kind": "betr",
                "corpus": corpus,
                "corpus_id": corpus_id,
                "corpus_docs": len(doc_ids),
                "targets": targets,
                "target_set_id": set_id,
                "benchmarks": {b: 3 for b in benchmarks},
                "sample": n_sample,
                "seed": seed,
                "model_id": "synthetic@0",
                "embedder": "synthetic",
                "aggregate": "max-rank",
                "positive_frac": 0.1,
                "valid_frac": 0.1,
                "k0": 64,
            }
            run_id = conn.execute(
                "INSERT INTO runs (kind, name, config, config_hash, state, corpus_id, "
                "target_set_id, metrics, created_at, finished_at) "
                "VALUES ('betr', ?, ?, ?, 'applied', ?, ?, ?, ?, ?)",
                (
                    f"{corpus} vs {targets}",
                    json.dumps(config, sort_keys=True),
                    config_hash(config),
                    corpus_id,
                    set_id,
                    json.dumps({"sample": n_sample, "k_final": 64, "valid": {"roc_auc": 0.9}}),
                    now,
                    now,
                ),
            ).lastrowid
            _scores(conn, rng, run_id, doc_ids, n_sample, bench_ids, prob_decimals)
            write_prob_order(conn, run_id)
        return int(run_id)
    finally:
        conn.close()


def _corpus(conn, rng, name: str, n_docs: int, words: int, chunk: int, now: float) -> int:
    row = conn.execute("SELECT id FROM corpora WHERE name = ?", (name,)).fetchone()
    if row is not None:
        return int(row[0])
    corpus_id = conn.execute(
        "INSERT INTO corpora (name, state, created_at, tokenizer, tokenizer_sha256, text_field, "
        "meta_fields, sources) VALUES (?, 'ready', ?, 'synthetic', '-', 'text', '[\"lang\"]', "
        "'[\"synthetic.jsonl\"]')",
        (name, now),
    ).lastrowid
    total_tokens = total_chars = 0
    for start in range(0, n_docs, chunk):
        n = min(chunk, n_docs - start)
        lengths = np.maximum(8, rng.lognormal(6.0, 1.0, size=n)).astype(np.int64)
        rows = []
        for i in range(n):
            text = make_text(rng, int(rng.integers(words // 2, words * 2)))
            k = start + i
            rows.append(
                (
                    corpus_id,
                    f"doc-{k:07d}",
                    text,
                    int(lengths[i]),
                    len(text),
                    f"synthetic.jsonl:{k + 1}",
                    json.dumps({"lang": LANGS[k % len(LANGS)]}),
                )
            )
            total_chars += len(text)
        total_tokens += int(lengths.sum())
        conn.executemany(
            "INSERT INTO docs (corpus_id, ext_id, text, n_tokens, n_chars, source, meta) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.execute(
        "UPDATE corpora SET n_docs = ?, n_tokens = ?, n_chars = ? WHERE id = ?",
        (n_docs, total_tokens, total_chars, corpus_id),
    )
    return int(corpus_id)


def _benchmarks(conn, rng, names: tuple[str, ...], now: float) -> dict[str, int]:
    out = {}
    for name in names:
        row = conn.execute("SELECT id FROM benchmarks WHERE name = ?", (name,)).fetchone()
        if row is None:
            bid = conn.execute(
                "INSERT INTO benchmarks (name, format, n_examples, created_at) "
                "VALUES (?, 'mc', 3, ?)",
                (name, now),
            ).lastrowid
            for i in range(3):
                q = make_text(rng, 12).rstrip(".") + "?"
                conn.execute(
                    "INSERT INTO examples (benchmark_id, idx, ext_id, question, answer, text) "
                    "VALUES (?, ?, ?, ?, 'A', ?)",
                    (bid, i, f"{name}-{i}", q, q),
                )
            row = (bid,)
        out[name] = int(row[0])
    return out


def _scores(
    conn, rng, run_id: int, doc_ids: np.ndarray, n_sample: int, bench_ids: dict, decimals: int
) -> None:
    n = len(doc_ids)
    latent = rng.normal(size=n)
    prob = 1.0 / (1.0 + np.exp(-(1.5 * latent - 1.0)))
    prob = np.round(prob, decimals)  # ties happen, as with a real classifier's rounded output
    for start in range(0, n, 200_000):
        conn.executemany(
            "INSERT INTO doc_probs (run_id, doc_id, prob) VALUES (?, ?, ?)",
            zip(
                [run_id] * min(200_000, n - start),
                doc_ids[start : start + 200_000].tolist(),
                prob[start : start + 200_000].tolist(),
                strict=True,
            ),
        )
    pick = np.sort(rng.choice(n, size=n_sample, replace=False))
    quality = latent[pick] + rng.normal(scale=0.8, size=n_sample)
    order = np.argsort(-quality, kind="stable")
    best_rank = np.empty(n_sample, dtype=np.int64)
    best_rank[order] = np.arange(1, n_sample + 1)
    k = max(1, n_sample // 2)
    names = sorted(bench_ids)
    weights = np.linspace(2.0, 1.0, len(names))
    bench = rng.choice(len(names), size=n_sample, p=weights / weights.sum())
    positives = set(order[: max(1, n_sample // 10)].tolist())
    examples = {
        b: [r[0] for r in conn.execute("SELECT id FROM examples WHERE benchmark_id = ?", (bid,))]
        for b, bid in bench_ids.items()
    }
    rows = []
    for j in range(n_sample):
        within = best_rank[j] <= k
        name = names[bench[j]]
        rows.append(
            (
                run_id,
                int(doc_ids[pick[j]]),
                1.0 / best_rank[j] if within else 0.0,
                int(best_rank[j]) if within else None,
                round(float(0.9 - 0.5 * best_rank[j] / n_sample), 6),
                examples[name][j % len(examples[name])] if within else None,
                bench_ids[name],
                int(j in positives),
                ("train", "train", "train", "train", "train", "train", "train", "train", "valid")[
                    j % 9
                ],
            )
        )
    conn.executemany(
        "INSERT INTO run_sample (run_id, doc_id, score, best_rank, best_cosine, example_id, "
        "benchmark_id, label, split) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def rewrite_texts(ws: Workspace, texts: dict[int, str]) -> None:
    """Docs' texts (doc id -> text) rewritten in place, their full-text index in step."""
    conn = ws.connect()
    try:
        with transaction(conn):
            for doc_id, text in texts.items():
                (old,) = conn.execute("SELECT text FROM docs WHERE id = ?", (doc_id,)).fetchone()
                conn.execute(
                    "INSERT INTO docs_fts(docs_fts, rowid, text) VALUES ('delete', ?, ?)",
                    (doc_id, old),
                )
                conn.execute(
                    "UPDATE docs SET text = ?, n_chars = ? WHERE id = ?",
                    (text, len(text), doc_id),
                )
                conn.execute("INSERT INTO docs_fts(rowid, text) VALUES (?, ?)", (doc_id, text))
    finally:
        conn.close()


def cache_sample_vectors(
    ws: Workspace, run_id: int, doc_vectors: np.ndarray, *, seed: int = 0
) -> None:
    """The run's scored sample embedded as `doc_vectors` ((n_sample, dim), in doc id order)
    and its target examples as seeded random unit vectors, written into the embedding cache
    under the run's model id, keyed by text as scoring writes them."""
    from engine.embed import normalise_rows, text_sha256

    conn = ws.connect()
    try:
        model_id = json.loads(
            conn.execute("SELECT config FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
        )["model_id"]
        docs = conn.execute(
            "SELECT d.text FROM run_sample s JOIN docs d ON d.id = s.doc_id WHERE s.run_id = ? "
            "ORDER BY s.doc_id",
            (run_id,),
        ).fetchall()
        examples = conn.execute(
            "SELECT DISTINCT e.text FROM examples e JOIN target_set_members m "
            "ON m.benchmark_id = e.benchmark_id JOIN runs r ON r.target_set_id = m.target_set_id "
            "WHERE r.id = ? ORDER BY e.id",
            (run_id,),
        ).fetchall()
        assert len(docs) == len(doc_vectors), "one vector per sample doc"
        rng = np.random.default_rng(seed)
        ex_vecs = normalise_rows(rng.normal(size=(len(examples), doc_vectors.shape[1])))
        rows = [
            (model_id, text_sha256(t), np.asarray(v, dtype=np.float16).tobytes())
            for (t,), v in zip([*docs, *examples], [*doc_vectors, *ex_vecs], strict=True)
        ]
        with transaction(conn):
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings (model_id, text_sha256, vec) VALUES (?, ?, ?)",
                rows,
            )
    finally:
        conn.close()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Add a generated applied BETR run to a workspace.")
    parser.add_argument("workspace", type=Path, help="created when missing")
    parser.add_argument("docs", type=int, help="documents in the generated corpus")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", default="synthetic-targets", help="target set name")
    args = parser.parse_args()
    root = args.workspace
    ws = Workspace.open(root) if (root / "betr.sqlite").exists() else Workspace.init(root)
    print(make_synthetic_run(ws, args.docs, seed=args.seed, targets=args.targets))


if __name__ == "__main__":  # python -m bench.synth_run WORKSPACE N_DOCS
    main()
