"""Apply scaling: Ray at 1 and 2 CPUs vs one local process on the same shards, and the local
apply's cost per doc from 10k to 1M docs.

Part 1 (only when `ray` imports and engine/exec/scale/adapter.py exists; "ray part skipped: ..."
otherwise): `--ray-docs` records cycling over combined_docs.jsonl (unique ids) in `--shards`
JSONL shards; a fastText classifier (paper settings, bucket 100 000) trained on the base docs
(label: quality_label == 1). The same work per doc every way: read the shard (our readers),
p(positive) (FastTextApply), the GPT-NeoX token count, a Parquet file per shard. Local: one
process, shard after shard (bench/ray_apply.py's `_local`). Ray: a local instance with
`num_cpus` 1 then 2 and as many actors (engine.exec.scale.adapter sizes them to leave 0.25 CPU
for the read tasks); the instance's start-up is not timed, the actors' model loading is.
Tokenizers run on one thread (RAYON_NUM_THREADS=1).

Part 2: the local apply job (`betr apply`, as bench/apply.py runs it: chunks of p(positive)
into doc_probs, then the probability order) on workspaces of 10k, 100k and 1M docs (cycling
combined_docs.jsonl), each with a BETR run trained on a sample of it; prints the job's time per
doc, which should stay flat. Building a workspace (import, score, train) is not timed but takes
far longer than the apply at 1M on 2 cores: `--max-docs` stops earlier.

    python bench/scaling.py [--ray-docs 40000] [--shards 8] [--max-docs 1000000] [--skip-ray]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.apply import DOCS, GSM8K, build_workspace, pipeline  # noqa: E402

SIZES = (10_000, 100_000, 1_000_000)


def ray_missing() -> str | None:
    """Why the Ray part cannot run, or None."""
    if importlib.util.find_spec("ray") is None:
        return "ray is not installed (pip install 'betr-tui[ray]')"
    for path in ("engine/exec/scale/adapter.py", "bench/ray_apply.py"):
        if not (REPO / path).is_file():
            return f"{path} does not exist"
    try:
        import ray
        import ray.data
    except ImportError as exc:
        return f"ray does not import ({exc})"
    del ray
    return None


# -- part 1: Ray at 1 and 2 CPUs vs one local process ------------------------------------------
def write_shards(n_docs: int, n_shards: int, out: Path) -> list[Path]:
    base = [json.loads(line) for line in DOCS.open(encoding="utf-8") if line.strip()]
    out.mkdir(parents=True, exist_ok=True)
    per = -(-n_docs // n_shards)
    paths = []
    for k in range(n_shards):
        path = out / f"shard-{k:03d}.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(k * per, min(n_docs, (k + 1) * per)):
                src = base[i % len(base)]
                rec = {"id": f"{src['id']}-r{i // len(base)}", "text": src["text"]}
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths


def train_model(out: Path) -> Path:
    from engine.betr.classifier import train_classifier

    base = [json.loads(line) for line in DOCS.open(encoding="utf-8") if line.strip()]
    texts = [r["text"] for r in base]
    labels = [int(r.get("quality_label") == 1) for r in base]
    train_classifier(texts, labels, out, {"bucket": 100_000})
    return out


def ray_part(n_docs: int, n_shards: int, batch_size: int) -> None:
    import logging

    from ray.data import DataContext

    from bench.ray_apply import _local, apply_operators
    from engine.exec.scale.adapter import run_shards
    from engine.exec.scale.session import ray_session
    from engine.exec.scale.shards import plan_shards

    DataContext.get_current().enable_progress_bars = False  # no progress lines between ours
    logging.getLogger("ray").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="betr-bench-scaling-") as d:
        tmp = Path(d)
        shards = write_shards(n_docs, n_shards, tmp / "shards")
        model = train_model(tmp / "model.bin")
        mb = sum(p.stat().st_size for p in shards) / 1e6
        print(
            f"part 1: {n_docs} docs in {n_shards} JSONL shards ({mb:.0f} MB), batch {batch_size}, "
            f"{os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f})"
        )
        t0 = time.perf_counter()
        rows = _local(shards, model, tmp / "local", batch_size)
        t_local = time.perf_counter() - t0
        assert rows == n_docs, rows
        local_rate = n_docs / t_local
        print(f"  local, 1 process: {t_local:6.2f} s  {local_rate:8,.0f} docs/s")
        for cpus in (1, 2):
            with ray_session("local", cpus) as ray:
                plan = plan_shards([str(s) for s in shards], tmp / f"ray{cpus}")
                t0 = time.perf_counter()
                rows = run_shards(ray, plan, apply_operators(model, batch_size), actors=cpus)
                elapsed = time.perf_counter() - t0
            assert rows == n_docs, rows
            rate = n_docs / elapsed
            goal = " (goal >= 1.6x)" if cpus == 2 else ""
            print(
                f"  Ray, {cpus} CPU{'s' if cpus > 1 else ' '}, {cpus} actor{'s' if cpus > 1 else ' '}:"
                f" {elapsed:6.2f} s  {rate:8,.0f} docs/s  {rate / local_rate:.2f}x local{goal}"
            )


# -- part 2: cost per doc from 10k to 1M -------------------------------------------------------
def growth_part(max_docs: int, sample: int) -> None:
    sizes = [n for n in SIZES if n <= max_docs] or [max_docs]
    print(f"part 2: local apply job at {', '.join(f'{n:,}' for n in sizes)} docs")
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="betr-bench-scaling-") as d:
            ws, run_id = build_workspace(Path(d), n, sample)
            whole, loop = pipeline(ws, run_id, n)
        rows.append((n, whole, loop))
        print(
            f"  {n:>9,} docs: apply {whole:7.2f} s  {whole / n * 1e6:6.1f} us/doc "
            f"(chunk loop {loop / n * 1e6:6.1f} us/doc)"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        growth = (last[1] / last[0]) / (first[1] / first[0])
        print(f"  per-doc cost at {last[0]:,} / at {first[0]:,}: {growth:.2f}x (flat = 1.0x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ray-docs", type=int, default=40_000)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--max-docs", type=int, default=SIZES[-1], help="largest size of part 2")
    ap.add_argument("--sample", type=int, default=200, help="BETR sample of each part 2 run")
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-growth", action="store_true")
    args = ap.parse_args()
    for path in (DOCS, GSM8K):
        if not path.is_file():
            sys.exit(f"bench needs {path} (set BETR_SHARED_DATA)")
    if not args.skip_ray:
        why = ray_missing()
        if why is None:
            ray_part(args.ray_docs, args.shards, args.batch_size)
        else:
            print(f"ray part skipped: {why}")
    if not args.skip_growth:
        growth_part(args.max_docs, args.sample)


if __name__ == "__main__":
    main()
