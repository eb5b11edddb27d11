"""Correlation matrix throughput: a 60 x 60 benchmark matrix over 400 runs through the engine vs
the same scipy/numpy calls done bare, measured in the same run.

Data: 400 runs x 60 benchmarks of synthetic accuracies (one latent quality per run plus noise),
as 24 000 long rows (what engine.store.evals.eval_results returns).
- engine: engine.analysis.correlations_run.run(rows, "matrix"): polars frame, duplicate check,
  pivot, category order, the broadcast `scipy.stats.pearsonr`, the JSON-ready {rows, cols, r, p,
  n} (the use case minus reading SQLite).
- bare: the same rows pivoted with a dict into a numpy array, the same broadcast
  `scipy.stats.pearsonr(x[:, :, None], x[:, None, :], axis=0)`, `.tolist()`.
Also shown: the matrix step alone (engine.analysis.correlations.block vs the bare call), the use
case through a workspace (engine.api.analysis_corr.corr, SQLite read included), and the naive
per-pair `scipy.stats.pearsonr` loop (3600 calls) for scale. Best of `--repeat` each.

    python bench/analysis_corr.py [--runs 400] [--benchmarks 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from contextlib import closing
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.analysis.correlations import block  # noqa: E402
from engine.analysis.correlations_run import run  # noqa: E402


def long_rows(n_runs: int, n_bench: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n_runs)
    load = rng.uniform(0.2, 1.0, size=n_bench)
    vals = 0.5 + 0.05 * z[:, None] * load[None, :] + 0.02 * rng.normal(size=(n_runs, n_bench))
    return [
        {"run": f"run{i:04d}", "size": "1B", "params": 10**9, "stage": None,
         "benchmark": f"bench{j:02d}", "category": None, "metric": "acc",
         "value": float(vals[i, j]), "attrs": None, "source": "bench"}
        for i in range(n_runs) for j in range(n_bench)
    ]  # fmt: skip


def bare(rows: list[dict]) -> dict:
    from scipy import stats

    runs = sorted({r["run"] for r in rows})
    bms = sorted({r["benchmark"] for r in rows})
    ri = {r: i for i, r in enumerate(runs)}
    bi = {b: j for j, b in enumerate(bms)}
    x = np.full((len(runs), len(bms)), np.nan)
    for r in rows:
        x[ri[r["run"]], bi[r["benchmark"]]] = r["value"]
    res = stats.pearsonr(x[:, :, None], x[:, None, :], axis=0)
    return {"rows": bms, "cols": bms, "r": res.statistic.tolist(), "p": res.pvalue.tolist()}


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def bench_corr(n_runs: int = 400, n_bench: int = 60, repeat: int = 3) -> dict[str, float]:
    """Times (seconds) and the ratio bare / engine (goal >= 0.8x); prints a summary."""
    from scipy import stats

    from engine.api.analysis_corr import corr
    from engine.store import evals
    from engine.store.db import transaction
    from engine.workspace import Workspace

    rows = long_rows(n_runs, n_bench)
    print(f"correlation matrix: {n_bench} x {n_bench} benchmarks over {n_runs} runs "
          f"({len(rows)} long rows)")  # fmt: skip
    t_eng, t_bare = [], []
    res = want = None
    for _ in range(repeat):  # alternate the two
        t, res = best(lambda: run(rows, "matrix"), 1)
        t_eng.append(t)
        t, want = best(lambda: bare(rows), 1)
        t_bare.append(t)
    m = res["matrices"][0]  # type: ignore[index]
    assert m["rows"] == want["rows"]  # type: ignore[index]
    assert np.allclose(np.array(m["r"], dtype=float), want["r"], equal_nan=True)  # type: ignore[index]
    eng, base = min(t_eng), min(t_bare)
    x = np.array(
        [[r["value"] for r in rows[i * n_bench : (i + 1) * n_bench]] for i in range(n_runs)]
    )
    names = [f"bench{j:02d}" for j in range(n_bench)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_block, _ = best(lambda: block(x, x, names, names), repeat)
        t_call, _ = best(lambda: stats.pearsonr(x[:, :, None], x[:, None, :], axis=0), repeat)
        t_loop, _ = best(
            lambda: [
                stats.pearsonr(x[:, i], x[:, j]) for i in range(n_bench) for j in range(n_bench)
            ],
            1,
        )
    with tempfile.TemporaryDirectory(prefix="betr-bench-corr-") as tmp:
        ws = Workspace.init(Path(tmp) / "ws")
        with closing(ws.connect()) as conn, transaction(conn):
            evals.insert_eval_results(conn, rows)
        t_api, _ = best(lambda: corr(ws, "matrix"), repeat)
    print(f"  matrix step: engine block {t_block * 1e3:.1f} ms | bare pearsonr call "
          f"{t_call * 1e3:.1f} ms | ratio {t_call / t_block:.2f}x")  # fmt: skip
    print(f"  use case via a workspace (SQLite read included): {t_api * 1e3:.0f} ms; "
          f"naive per-pair pearsonr loop: {t_loop * 1e3:.0f} ms")  # fmt: skip
    print(f"engine {eng * 1e3:.1f} ms | bare {base * 1e3:.1f} ms | ratio {base / eng:.2f}x of "
          f"baseline (goal >= 0.8x)")  # fmt: skip
    return {"engine_s": eng, "bare_s": base, "ratio": base / eng, "block_s": t_block,
            "call_s": t_call, "api_s": t_api, "loop_s": t_loop}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=400)
    ap.add_argument("--benchmarks", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    bench_corr(args.runs, args.benchmarks, args.repeat)


if __name__ == "__main__":
    main()
