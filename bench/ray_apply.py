"""Ray apply (2 local CPUs) vs the same work in one local process, on the same shards.

Work per doc, both ways: read the shard with our readers (JSONL), p(positive) with a fastText
classifier (FastTextApply: normalise + batched predict), the GPT-NeoX token count, and a
Parquet file per shard. Local: one process, shard after shard. Ray: `ray.init(num_cpus=2)`,
2 actors (engine.exec.scale.adapter.OperatorActor, 0.875 CPU each), each taking whole shards: the same
`process_shard` (read, predict, count, write) as the local side runs shard after shard. The Ray
instance's start-up is not timed (the bench waits 3 s for its agents to settle); starting the
actors and loading their models is. Tokenizers run on one thread
in both (RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false, inherited by the Ray workers), so
the comparison is one process against two.

`ray_startup_s` is the fixed cost a larger input amortises: at 40k docs (8 shards) on 2 cores
the speedup is about 1.25x, at 160k (16 shards) about 1.64x.

    python bench/ray_apply.py [--docs 40000] [--shards 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.synth_run import make_text  # noqa: E402
from engine.betr.classifier import file_sha256, train_classifier  # noqa: E402
from engine.tokenize import DEFAULT_TOKENIZER  # noqa: E402


def _setup(tmp: Path, n_docs: int, n_shards: int) -> tuple[list[Path], Path]:
    import numpy as np

    rng = np.random.default_rng(0)
    texts = [make_text(rng, int(rng.integers(60, 300))) for _ in range(n_docs)]
    model = tmp / "model.bin"
    labels = [int("energy" in t) for t in texts[:2000]]
    train_classifier(texts[:2000], labels, model, {"bucket": 100_000, "dim": 64}, threads=1)
    shards = []
    per = -(-n_docs // n_shards)
    for k in range(n_shards):
        path = tmp / f"shard-{k:03d}.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(k * per, min(n_docs, (k + 1) * per)):
                fh.write(json.dumps({"id": f"d{i}", "text": texts[i]}) + "\n")
        shards.append(path)
    return shards, model


def apply_operators(model: Path, batch_size: int) -> list:
    """What a Ray apply runs on each batch: p(positive), then the GPT-NeoX token count."""
    from engine.ops.count_tokens import CountTokens
    from engine.ops.fasttext_apply import FastTextApply

    return [
        FastTextApply(model, file_sha256(model), None, batch_size=batch_size),
        CountTokens(DEFAULT_TOKENIZER, batch_size=batch_size),
    ]


def _local(shards: list[Path], model: Path, out: Path, batch_size: int) -> int:
    """The same per-shard function as each Ray actor runs (engine.exec.scale.adapter.
    process_shard), shard after shard, in this process."""
    from engine.exec.scale.adapter import process_shard
    from engine.exec.scale.shards import plan_shards

    operators = apply_operators(model, batch_size)
    rows = 0
    for shard in plan_shards([str(s) for s in shards], out):
        rows += process_shard(operators, shard.source, shard.out, "text", "id", batch_size)
    return rows


def bench_ray_apply(
    n_docs: int = 40_000, n_shards: int = 8, num_cpus: int = 2, batch_size: int = 1024
) -> dict:
    """Docs/s of the local single-process apply and of the Ray apply on `num_cpus` CPUs (2
    actors), on the same shards; `speedup` = ray / local."""
    from engine.exec.scale.adapter import run_shards
    from engine.exec.scale.session import ray_session
    from engine.exec.scale.shards import plan_shards

    with tempfile.TemporaryDirectory(prefix="betr-bench-ray-") as d:
        tmp = Path(d)
        shards, model = _setup(tmp, n_docs, n_shards)
        t0 = time.perf_counter()
        local_rows = _local(shards, model, tmp / "local", batch_size)
        t_local = time.perf_counter() - t0
        with ray_session("local", num_cpus) as ray:
            plan = plan_shards([str(s) for s in shards], tmp / "ray")
            # let the instance finish starting (its dashboard, agents and log monitor are
            # Python processes that import for ~2 s of CPU after ray.init returns): start-up
            # is not what is measured
            time.sleep(3)
            finished: list[float] = []
            t0 = time.perf_counter()
            ray_rows = run_shards(
                ray,
                plan,
                apply_operators(model, batch_size),
                actors=2,
                on_shard=lambda _s, _n: finished.append(time.perf_counter() - t0),
            )
            t_ray = time.perf_counter() - t0
    assert local_rows == ray_rows == n_docs
    local_rate, ray_rate = n_docs / t_local, n_docs / t_ray
    return {
        "docs": n_docs,
        "shards": n_shards,
        "num_cpus": num_cpus,
        "local_docs_per_s": round(local_rate, 1),
        "ray_docs_per_s": round(ray_rate, 1),
        "local_s": round(t_local, 2),
        "ray_s": round(t_ray, 2),
        "speedup": round(ray_rate / local_rate, 2),
        # start-up: the first shard's finish less one shard's local time (Ray Data starting,
        # the actors importing it and loading the model)
        "ray_startup_s": round(finished[0] - t_local / n_shards, 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs", type=int, default=40_000)
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--num-cpus", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=1024)
    a = p.parse_args()
    print(json.dumps(bench_ray_apply(a.docs, a.shards, a.num_cpus, a.batch_size), indent=2))


if __name__ == "__main__":
    main()
