"""The GPU paths beside their bare baselines and the device's ceiling, ready for the day a GPU is
lent (no test or CI run here has one).

With CUDA it measures, each in the same run as its baseline (the best of `--repeat` alternating
runs of each):
- embed: the bundled MiniLM in fp16 through `embed_cached` (the BETR score step's path) vs bare
  `SentenceTransformer.encode` of the same texts (bench/embed.py's bench_embed), texts/s;
- nll: proxy NLL (`engine.ops.proxy_nll.ProxyNLL`, bf16) of a ~160M-parameter GPT-NeoX built from
  a config (random weights: throughput does not depend on them) vs a bare forward +
  log_softmax loop over the same padded batches (bench/rbridge_nll.py), tokens/s, and the
  fraction of the device's peak dense bf16 FLOP/s: 2 x params x tokens/s / peak;
- train: the proxy trainer (`LMTrainer.run`, bf16 autocast) vs a bare training loop
  (bench/rbridge_train.py), tokens/s and MFU: 6 x params x tokens/s / peak (the usual
  estimate; attention's own FLOPs left out, so MFU reads slightly low at long sequences);
- faiss: exact inner-product top-k (`FlatSearcher`, the BETR rank's search: queries = target
  examples, base = docs) on faiss-gpu vs faiss-cpu `IndexFlatIP` on the same vectors, queries/s.

Peak dense bf16 TFLOP/s by device name (vendor data sheets, without sparsity): PEAK_BF16_TFLOPS;
`--peak-tflops` sets it for a device not listed (the fractions are left out when unknown).

Without CUDA it prints what it would measure and exits 0. `--device cpu` runs the same
measurements on the CPU (at `--tiny` sizes: what the smoke test does, so the code cannot rot).

    python bench/gpu.py [--json] [--tiny] [--device cpu] [--repeat 2] [--peak-tflops T]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

# Dense bf16 tensor TFLOP/s (no sparsity), from NVIDIA's data sheets; matched as substrings of
# torch.cuda.get_device_name(), most specific first.
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989.4),
    ("GH200", 989.4),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.4),
    ("A100", 312.0),
    ("L40S", 362.1),
    ("L4", 121.0),
    ("A10G", 70.0),
    ("RTX 4090", 165.2),
)


@dataclass(frozen=True)
class Sizes:
    """What each measurement runs on. FULL: the proxy size the issue names (~160M parameters),
    real-length texts; TINY: seconds on a CPU, for the smoke test."""

    embed_texts: int
    nll_hidden: int
    nll_layers: int
    nll_vocab: int
    nll_sequences: int
    nll_batch: int
    train_params: int
    train_steps: int
    train_seq_len: int
    train_batch: int
    train_tokenizer: str
    faiss_docs: int
    faiss_queries: int
    faiss_k: int
    dim: int = 384


FULL = Sizes(
    embed_texts=4000,
    nll_hidden=768,  # 768 x 12 layers, vocab 50 304: 162M parameters (Pythia-160M's shape)
    nll_layers=12,
    nll_vocab=50_304,
    nll_sequences=256,
    nll_batch=32,
    train_params=160_000_000,
    train_steps=30,
    train_seq_len=1024,
    train_batch=16,
    train_tokenizer="train:32768",
    faiss_docs=1_000_000,
    faiss_queries=4096,
    faiss_k=64,
)
TINY = Sizes(
    embed_texts=32,
    nll_hidden=64,
    nll_layers=2,
    nll_vocab=512,
    nll_sequences=8,
    nll_batch=4,
    train_params=200_000,
    train_steps=3,
    train_seq_len=32,
    train_batch=2,
    train_tokenizer="train:512",
    faiss_docs=2000,
    faiss_queries=64,
    faiss_k=8,
)


def cuda_device() -> tuple[str, str] | None:
    """("cuda:0", its name) when torch sees a CUDA device, else None."""
    import torch

    if not torch.cuda.is_available():
        return None
    return "cuda:0", torch.cuda.get_device_name(0)


def peak_flops(device_name: str, override_tflops: float | None) -> float | None:
    """Peak dense bf16 FLOP/s of the device (None: unknown, or a CPU)."""
    if override_tflops is not None:
        return override_tflops * 1e12
    for key, tflops in PEAK_BF16_TFLOPS:
        if key in device_name:
            return tflops * 1e12
    return None


def row(step: str, unit: str, ours: float, baseline: float, baseline_name: str, **extra) -> dict:
    return {
        "step": step,
        "unit": unit,
        "pipeline": ours,
        "baseline": baseline,
        "baseline_name": baseline_name,
        "ratio": ours / baseline if baseline else None,
        **extra,
    }


def measure_embed(sizes: Sizes, device: str, repeat: int) -> dict:
    from embed import bench_embed, distinct_texts

    r = bench_embed(distinct_texts(sizes.embed_texts), device=device, repeats=repeat)
    return row(
        "embed",
        "texts/s",
        r["pipeline_texts_per_s"],
        r["bare_texts_per_s"],
        "SentenceTransformer.encode",
        dtype=r["dtype"],
        detail=f"{r['texts']} texts, {r['model_id']}, min cosine {r['min_cosine']:.6f}",
    )


def measure_nll(sizes: Sizes, device: str, repeat: int, peak: float | None) -> dict:
    from rbridge_nll import bench_nll

    from engine.ops.train_lm import neox_params

    r = bench_nll(
        sequences=sizes.nll_sequences,
        batch_size=sizes.nll_batch,
        vocab=sizes.nll_vocab,
        hidden=sizes.nll_hidden,
        layers=sizes.nll_layers,
        repeat=repeat,
        device=device,
    )
    params = neox_params(sizes.nll_vocab, sizes.nll_hidden, sizes.nll_layers)
    ours = r["operator_tok_s"]
    return row(
        "nll",
        "tokens/s",
        ours,
        r["baseline_tok_s"],
        "bare forward + log_softmax loop",
        dtype=r["dtype"],
        params=params,
        fraction_of_peak=2 * params * ours / peak if peak else None,
        detail=f"{r['model']}, {r['sequences']} sequences, max |dNLL| {r['max_abs_nll_diff']:.2e}",
    )


def measure_train(sizes: Sizes, device: str, repeat: int, peak: float | None) -> dict:
    from rbridge_train import bench_train

    r = bench_train(
        sizes.train_params,
        sizes.train_steps,
        sizes.train_seq_len,
        sizes.train_batch,
        sizes.train_tokenizer,
        device,
        repeat,
    )
    ours = r["trainer_tokens_per_s"]
    return row(
        "train",
        "tokens/s",
        ours,
        r["bare_tokens_per_s"],
        "bare AdamW loop",
        dtype="bf16 autocast" if device.startswith("cuda") else "float32",
        params=r["params"],
        mfu=6 * r["params"] * ours / peak if peak else None,
        detail=f"hidden {r['shape'][0]}, {r['shape'][1]} layers, vocab {r['vocab']}, "
        f"{r['steps']} steps of {sizes.train_batch}x{sizes.train_seq_len}",
    )


def measure_faiss(sizes: Sizes, gpu: bool, repeat: int) -> dict:
    """FlatSearcher on the GPU (or, on a CPU run, on the CPU) vs a faiss-cpu IndexFlatIP over
    the same unit vectors; queries/s of a top-k search; the ids must agree."""
    import faiss

    from engine.betr.exact_search import FlatSearcher, gpu_available

    if gpu and not gpu_available():
        return {"step": "faiss", "skipped": "faiss has no GPU support here (pip install .[gpu])"}
    rng = np.random.default_rng(0)

    def unit(n: int) -> np.ndarray:
        v = rng.standard_normal((n, sizes.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    base, queries = unit(sizes.faiss_docs), unit(sizes.faiss_queries)
    searcher = FlatSearcher(base, gpu=gpu)
    cpu_index = faiss.IndexFlatIP(sizes.dim)
    cpu_index.add(base)
    k = sizes.faiss_k
    searcher.search(queries[:8], k)  # warm up (the GPU index is built on first use)
    t_ours = t_cpu = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        _, ids_ours = searcher.search(queries, k)
        t_ours = min(t_ours, time.perf_counter() - t0)
        t0 = time.perf_counter()
        _, ids_cpu = cpu_index.search(queries, k)
        t_cpu = min(t_cpu, time.perf_counter() - t0)
    same = float(np.mean(ids_ours[:, 0] == ids_cpu[:, 0]))
    return row(
        "faiss",
        "queries/s",
        len(queries) / t_ours,
        len(queries) / t_cpu,
        f"faiss-cpu IndexFlatIP ({faiss.omp_get_max_threads()} threads)",
        detail=f"{sizes.faiss_docs:,} docs x {len(queries):,} queries, dim {sizes.dim}, "
        f"k {k}; top-1 ids agree on {same:.1%}",
    )


PLAN = (
    "embed: bundled MiniLM fp16 via embed_cached vs bare SentenceTransformer.encode (texts/s)",
    "nll: ProxyNLL bf16 on a 162M GPT-NeoX vs a bare forward loop (tokens/s, % of peak bf16)",
    "train: LMTrainer bf16 autocast, ~160M params, 16x1024 tokens a step vs a bare AdamW loop "
    "(tokens/s, MFU)",
    "faiss: FlatSearcher on faiss-gpu vs faiss-cpu IndexFlatIP, 1M docs x 4096 queries, k 64 "
    "(queries/s)",
)


def fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:.1%}" if pct else f"{x:,.1f}"


def print_table(rows: list[dict], header: str) -> None:
    print(header)
    print(f"{'step':6} {'unit':10} {'pipeline':>12} {'baseline':>12} {'ratio':>6}  peak  detail")
    for r in rows:
        if "skipped" in r:
            print(f"{r['step']:6} skipped: {r['skipped']}")
            continue
        frac = r.get("fraction_of_peak", r.get("mfu"))
        label = "MFU " if "mfu" in r else ""
        print(
            f"{r['step']:6} {r['unit']:10} {fmt(r['pipeline']):>12} {fmt(r['baseline']):>12} "
            f"{r['ratio']:5.2f}x  {label}{fmt(frac, pct=True)}  {r['detail']} "
            f"(baseline: {r['baseline_name']})"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    ap.add_argument("--tiny", action="store_true", help="seconds-long sizes (the smoke test)")
    ap.add_argument("--device", default="auto", help="auto (CUDA or nothing) or cpu")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--peak-tflops", type=float, default=None, help="peak dense bf16 TFLOP/s")
    ap.add_argument("--only", default="embed,nll,train,faiss", help="comma-separated steps")
    a = ap.parse_args(argv)
    sizes = TINY if a.tiny else FULL
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # save_pretrained's shard bar would break the table
    found = None if a.device == "cpu" else cuda_device()
    if found is None and a.device != "cpu":
        if a.json:
            print(
                json.dumps([{"step": s.split(":")[0], "skipped": "no CUDA device"} for s in PLAN])
            )
        else:
            print("bench/gpu.py: no CUDA device here, nothing measured. With one it measures:")
            for line in PLAN:
                print(f"  - {line}")
            print("Run it again on a GPU machine (python bench/gpu.py [--json]).")
        return 0
    device, name = found if found else ("cpu", "cpu")
    peak = peak_flops(name, a.peak_tflops) if found else None
    steps = set(a.only.split(","))
    rows = []
    if "embed" in steps:
        rows.append(measure_embed(sizes, device, a.repeat))
    if "nll" in steps:
        rows.append(measure_nll(sizes, device, a.repeat, peak))
    if "train" in steps:
        rows.append(measure_train(sizes, device, a.repeat, peak))
    if "faiss" in steps:
        rows.append(measure_faiss(sizes, found is not None, a.repeat))
    if a.json:
        print(json.dumps(rows))
    else:
        ceiling = f"peak bf16 {peak / 1e12:,.0f} TFLOP/s" if peak else "peak unknown"
        print_table(rows, f"bench/gpu.py on {name} ({ceiling}), best of {a.repeat}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
