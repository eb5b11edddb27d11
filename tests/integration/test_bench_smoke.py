"""The benches run, so they cannot rot: bench/gpu.py on a machine without CUDA says what it
would measure and exits 0; its measurements themselves run on the CPU at tiny sizes. No
timing is asserted, only what each row reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_bench(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TOKENIZERS_PARALLELISM="false")
    return subprocess.run(
        [sys.executable, str(REPO / "bench" / "gpu.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


def test_gpu_bench_without_cuda_says_what_it_would_measure():
    done = run_bench()
    assert done.returncode == 0, done.stderr
    assert "no CUDA device here, nothing measured" in done.stdout
    for step in ("embed:", "nll:", "train:", "faiss:"):
        assert f"  - {step}" in done.stdout
    rows = json.loads(run_bench("--json").stdout)
    assert [r["step"] for r in rows] == ["embed", "nll", "train", "faiss"]
    assert all(r["skipped"] == "no CUDA device" for r in rows)


@pytest.mark.slow
def test_gpu_bench_measurements_run_on_the_cpu_at_tiny_sizes():
    done = run_bench("--device", "cpu", "--tiny", "--repeat", "1", "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["step"]: r for r in json.loads(done.stdout)}
    assert set(rows) == {"embed", "nll", "train", "faiss"}
    for r in rows.values():
        assert r["pipeline"] > 0 and r["baseline"] > 0
        assert r["ratio"] == pytest.approx(r["pipeline"] / r["baseline"])
    assert rows["embed"]["unit"] == "texts/s" and rows["embed"]["dtype"] == "float32"
    assert "32 texts" in rows["embed"]["detail"]
    # a CPU has no listed bf16 peak: no fraction is made up
    assert rows["nll"]["fraction_of_peak"] is None and rows["train"]["mfu"] is None
    # the tiny NLL model: 2 x 512 x 64 embeddings + 2 layers of 12h^2 + 13h, + 2h
    assert rows["nll"]["params"] == 2 * 512 * 64 + 2 * (12 * 64 * 64 + 13 * 64) + 2 * 64
    assert "top-1 ids agree on 100.0%" in rows["faiss"]["detail"]


@pytest.mark.parametrize(
    ("name", "tflops"),
    [
        ("NVIDIA H100 80GB HBM3", 989.4),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA H200", 989.4),
        ("NVIDIA L40S", 362.1),
        ("NVIDIA L4", 121.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("Some Future GPU", None),
    ],
)
def test_gpu_bench_peak_by_device_name(name, tflops):
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import gpu
    finally:
        sys.path.remove(str(REPO / "bench"))
    peak = gpu.peak_flops(name, None)
    assert peak == (None if tflops is None else pytest.approx(tflops * 1e12))
    assert gpu.peak_flops(name, 100.0) == pytest.approx(1e14)
