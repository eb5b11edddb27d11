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


def growth_module():
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import growth
    finally:
        sys.path.remove(str(REPO / "bench"))
    return growth


def test_growth_pool_is_unique_real_length_text():
    """The pool cycles the real docs; every copy after the first differs from its original by
    one inserted word (so do the texts the real file repeats), so nothing dedups away and the
    length stays real."""
    growth = growth_module()
    if not growth.DOCS.is_file():
        pytest.skip(f"{growth.DOCS} is absent (set BETR_SHARED_DATA)")
    base = sum(1 for line in growth.DOCS.open(encoding="utf-8") if line.strip())
    recs = list(growth.pool_records(base + 3))
    assert len({r["id"] for r in recs}) == len(recs)
    assert len({r["text"] for r in recs}) == len(recs)
    for copy, orig in zip(recs[base:], recs[:3], strict=True):
        assert copy["id"] == orig["id"].removesuffix("-r0") + "-r1"
        extra = set(copy["text"].split(" ")) - set(orig["text"].split(" "))
        assert extra and all(w.startswith("c1") for w in extra)
        assert 0 < len(copy["text"]) - len(orig["text"]) <= 6
    assert growth.perturb("a b c", "c7", "x") in {"c7 a b c", "a c7 b c", "a b c7 c", "a b c c7"}


def test_growth_projection_follows_the_measured_slopes():
    """Hand-computed: a step whose per-doc cost grew 1.2x from 100k to 1M is projected at
    1.2x more per doc again at 10M; a fixed-sample step keeps its time; memory is the line
    through the two sizes."""
    growth = growth_module()

    def row(size, step, seconds, rss, unit=None):
        unit = unit or size
        return {
            "size": size,
            "step": step,
            "seconds": seconds,
            "us_per_doc": seconds / unit * 1e6,
            "peak_rss_mb": rss,
            "disk_bytes_per_doc": 9000.0,
            "unit_count": unit,
        }

    rows = [
        row(100_000, "apply", 10.0, 200.0),
        row(1_000_000, "apply", 120.0, 290.0),
        row(100_000, "score", 50.0, 1000.0, unit=1000),
        row(1_000_000, "score", 50.0, 1000.0, unit=1000),
        row(100_000, "tui-page-down", 0.010, 300.0),
        row(1_000_000, "tui-page-down", 0.012, 500.0),
    ]
    growth.add_growth(rows)
    assert rows[1]["growth"] == pytest.approx(1.2)
    out = {r["step"]: r for r in growth.project(rows, 10_000_000)}
    assert out["apply"]["seconds"] == pytest.approx(120.0 * 10 * 1.2)
    assert out["apply"]["peak_rss_mb"] == pytest.approx(290.0 + 90.0 / 900_000 * 9_000_000)
    assert out["score"]["seconds"] == pytest.approx(50.0)
    assert out["tui-page-down"]["seconds"] == pytest.approx(0.012 * 1.2)
    assert all(r["projected"] for r in out.values())


@pytest.mark.slow
def test_growth_bench_runs_every_step_at_two_small_sizes():
    growth = growth_module()
    for path in (growth.DOCS, *growth.TARGETS.values()):
        if not path.is_file():
            pytest.skip(f"{path} is absent (set BETR_SHARED_DATA)")
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TOKENIZERS_PARALLELISM="false")
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "growth.py"),
            "--sizes",
            "500,1000",
            "--sample",
            "200",
            "--targets",
            "40",
            "--fts-compare",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout)
    measured = [r for r in rows if not r.get("projected")]
    assert [(r["size"], r["step"]) for r in measured] == [
        (n, s) for n in (500, 1000) for s in growth.STEPS
    ]
    for r in measured:
        assert set(r) >= {
            "size",
            "step",
            "seconds",
            "us_per_doc",
            "peak_rss_mb",
            "disk_bytes_per_doc",
        }
        assert r["seconds"] > 0 and r["peak_rss_mb"] > 0 and r["disk_bytes_per_doc"] > 0
        assert r["cpu_seconds"] > 0
        unit = 200 if r["step"] in growth.PER_SAMPLE else r["size"]
        assert r["us_per_doc"] == pytest.approx(r["seconds"] / unit * 1e6, rel=1e-3)
    by = {(r["size"], r["step"]): r for r in measured}
    assert by[(1000, "apply")]["growth"] == pytest.approx(
        by[(1000, "apply")]["us_per_doc"] / by[(500, "apply")]["us_per_doc"], rel=1e-3
    )
    # the full-text index costs disk: the import without it stores fewer bytes per doc
    assert (
        by[(1000, "import-no-fts")]["disk_bytes_per_doc"]
        < by[(1000, "import")]["disk_bytes_per_doc"]
    )
    assert {r["step"] for r in rows if r.get("projected")} == set(growth.STEPS)
    assert all(r["size"] == 10_000_000 for r in rows if r.get("projected"))


def test_clusters_bench_runs_at_a_tiny_size():
    """bench/clusters.py: our k-means against bare faiss on the same vectors, then the job;
    both k-means give the same clusters."""
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "clusters.py"),
            *("--docs", "3000", "--dim", "32", "--k", "8", "--job-docs", "600", "--repeat", "1"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    kmeans, job = json.loads(done.stdout)
    assert (kmeans["step"], kmeans["docs"], kmeans["dim"], kmeans["k"]) == ("kmeans", 3000, 32, 8)
    assert kmeans["same_clusters_ari"] == 1.0
    assert kmeans["ratio"] > 0 and kmeans["ours_s"] > 0 and kmeans["baseline_s"] > 0
    assert (job["step"], job["docs"], job["k"]) == ("job", 600, 8)
    assert set(job["job_steps_s"]) == {"read_s", "kmeans_s", "titles_s", "total_s"}


def test_minhash_bench_runs_and_compares_when_datatrove_is_there():
    """bench/minhash.py at a tiny size: ours with both shingle hashes; datatrove's stages when
    it is installed (sha1: the same clusters), else the comparison skipped with a message."""
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "minhash.py"),
            "--docs",
            "300",
            "--synthetic",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["docs"] == 300 and row["params"]["buckets"] == 14 and row["params"]["rows"] == 8
    assert row["ours_poly64_docs_per_s"] > 0 and row["ours_sha1_docs_per_s"] > 0
    assert row["clusters_sha1"] == row["clusters_poly64"] == 30  # 30 texts, 10 copies each
    try:
        import datatrove  # noqa: F401
    except ImportError:
        assert row["baseline"].startswith("skipped: datatrove is not installed")
        return
    assert row["agreement_sha1"]["identical"]
    assert row["ratio_sha1"] == pytest.approx(
        row["ours_sha1_docs_per_s"] / row["datatrove_docs_per_s"], rel=0.02
    )
