"""Apply throughput vs bare fastText prediction on the same texts, measured in the same run.

Pipeline: the real `betr-apply` job run in this process (engine.api.jobs.run_here): load the classifier, read the
corpus texts from SQLite in chunks of APPLY_CHUNK, p(positive) per chunk (normalise + one
batched `model.predict`, k=2), insert `doc_probs` with a committed checkpoint per chunk, then
write `prob_order` (the probability order with cumulative tokens, one window query).
Baseline: the same classifier's `model.predict(lines, k=2, threshold=0.0)` on the same texts
already in memory, with the same normalisation (`normalize_text`) timed in, split over as many
processes as the job uses (`apply_workers`: every core for a large corpus), each already holding
the texts and the loaded model: the limit on the same cores.

The workspace: `--docs` records cycling over combined_docs.jsonl (unique ids), a GSM8K target
(first 40 test questions), a BETR run scored on a `--sample` of it, and a fastText classifier
with the paper's settings (bucket 100 000, as the demo uses). Setup is not timed.
Pipeline and baseline alternate `--repeat` times; the best of each is compared.

    python bench/apply.py [--docs 100000] [--sample 200] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.api.imports import import_benchmark, import_docs_spec  # noqa: E402
from engine.api.jobs import queue, run_here  # noqa: E402
from engine.api.runs import ScoreRequest, create_run, plan_score_run, run_summary  # noqa: E402
from engine.betr.classifier import load_classifier, normalize_text  # noqa: E402
from engine.ingest.readers import expand_sources  # noqa: E402
from engine.jobs.kinds.betr import apply_workers  # noqa: E402
from engine.jobs.specs import ApplySpec, ScoreSpec, TrainSpec  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

SHARED = Path(os.environ.get("BETR_SHARED_DATA", REPO.parent / "shared" / "data"))
DOCS = SHARED / "web_docs" / "combined_docs.jsonl"
GSM8K = SHARED / "benchmarks" / "gsm8k" / "test.jsonl"


def replicate(source: Path, n_docs: int, out: Path) -> None:
    """Write `n_docs` records cycling over `source`, each with a unique id."""
    base = [json.loads(line) for line in source.open(encoding="utf-8") if line.strip()]
    with open(out, "w", encoding="utf-8") as fh:
        for i in range(n_docs):
            rec = dict(base[i % len(base)])
            rec["id"] = f"{rec['id']}-r{i // len(base)}"
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def run_job(ws: Workspace, spec) -> dict:
    return run_here(ws, queue(ws, spec))


def build_workspace(tmp: Path, n_docs: int, sample: int) -> tuple[Workspace, int]:
    """A workspace with the replicated corpus and one trained BETR run (its id)."""
    src = tmp / "docs.jsonl"
    replicate(DOCS, n_docs, src)
    ws = Workspace.init(tmp / "ws")
    t0 = time.perf_counter()
    result = run_job(ws, import_docs_spec(ws, corpus="pool", paths=[str(src)]))
    print(
        f"  setup: imported {result['docs']} docs ({src.stat().st_size / 1e6:.0f} MB, "
        f"{result['tokens']} tokens) in {time.perf_counter() - t0:.0f} s"
    )
    gsm = tmp / "gsm8k.jsonl"
    with open(GSM8K, encoding="utf-8") as fh:
        gsm.write_text("".join(islice(fh, 40)), encoding="utf-8")
    import_benchmark(ws, expand_sources([str(gsm)]), "gsm8k")
    conn = ws.connect()
    try:
        config = plan_score_run(conn, ScoreRequest("pool", "gsm8k", sample=sample)).config
        run_id = create_run(conn, config)
    finally:
        conn.close()
    t0 = time.perf_counter()
    run_job(ws, ScoreSpec(run_id=run_id, device="cpu"))
    train = run_job(ws, TrainSpec(run_id=run_id, fasttext={"bucket": 100_000}))
    print(
        f"  setup: scored {sample} docs and trained the classifier in "
        f"{time.perf_counter() - t0:.0f} s (valid accuracy {train['accuracy']:.2f})"
    )
    return ws, run_id


def corpus_texts(ws: Workspace) -> list[str]:
    conn = ws.connect(readonly=True)
    try:
        return [r[0] for r in conn.execute("SELECT text FROM docs ORDER BY id")]
    finally:
        conn.close()


def classifier_file(ws: Workspace, run_id: int) -> Path:
    conn = ws.connect(readonly=True)
    try:
        row = conn.execute(
            "SELECT path FROM artifacts WHERE run_id = ? AND kind = 'fasttext'", (run_id,)
        ).fetchone()
    finally:
        conn.close()
    return ws.root / row[0]


_TEXTS: list[str] = []  # the baseline's texts, shared with its forked processes
_MODEL = None


def _load_model(path: str) -> None:
    global _MODEL
    _MODEL = load_classifier(Path(path))


def _predict_range(bounds: tuple[int, int]) -> int:
    lines = [normalize_text(t) for t in _TEXTS[bounds[0] : bounds[1]]]
    labels, _ = _MODEL.predict(lines, k=2, threshold=0.0)
    return len(labels)


def baseline(path: Path, texts: list[str], workers: int) -> float:
    """Seconds for normalise + batched model.predict(k=2) over `texts`, split evenly over
    `workers` forked processes that already hold the texts and the loaded model (their start
    is not timed): the limit of the pipeline on the same cores."""
    import multiprocessing

    global _TEXTS
    _TEXTS = texts
    step = -(-len(texts) // workers)
    ranges = [(i, min(len(texts), i + step)) for i in range(0, len(texts), step)]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_load_model, initargs=(str(path),)) as pool:
        pool.map(_predict_range, [(0, 0)] * workers)  # every worker has loaded the model
        t0 = time.perf_counter()
        done = sum(pool.map(_predict_range, ranges, chunksize=1))
        elapsed = time.perf_counter() - t0
    assert done == len(texts)
    return elapsed


def pipeline(ws: Workspace, run_id: int, n_docs: int) -> tuple[float, float]:
    """(seconds for the whole apply job, seconds of its chunk loop as the job recorded)."""
    job_id = queue(ws, ApplySpec(run_id=run_id))
    t0 = time.perf_counter()
    result = run_here(ws, job_id)
    elapsed = time.perf_counter() - t0
    assert result["docs"] == n_docs, result
    run = run_summary(ws, run_id)
    return elapsed, run.metrics["apply_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=200, help="BETR sample the classifier learns")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    for path in (DOCS, GSM8K):
        if not path.is_file():
            sys.exit(f"bench needs {path} (set BETR_SHARED_DATA)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="betr-bench-apply-") as tmp:
        ws, run_id = build_workspace(Path(tmp), args.docs, args.sample)
        path = classifier_file(ws, run_id)
        texts = corpus_texts(ws)
        workers = apply_workers(None, args.docs)
        mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        print(
            f"{args.docs} docs, {mb:.0f} MB of text, classifier {path.stat().st_size / 1e6:.0f} MB; "
            f"pipeline and baseline on {workers} process(es) ({os.cpu_count()} cores)"
        )
        t_base, t_pipe, t_loop = [], [], []
        for i in range(args.repeat):
            t_base.append(baseline(path, texts, workers))
            whole, loop = pipeline(ws, run_id, args.docs)
            t_pipe.append(whole)
            t_loop.append(loop)
            print(
                f"  round {i + 1}: baseline {t_base[-1]:.2f} s | pipeline {whole:.2f} s "
                f"(chunk loop {loop:.2f} s, model load + prob_order {whole - loop:.2f} s)"
            )
        base, pipe = min(t_base), min(t_pipe)
        print(
            f"pipeline {args.docs / pipe:,.0f} docs/s {mb / pipe:.1f} MB/s | "
            f"baseline {args.docs / base:,.0f} docs/s {mb / base:.1f} MB/s | "
            f"ratio {base / pipe:.2f}x of baseline (goal >= 0.8x)"
        )


if __name__ == "__main__":
    main()
