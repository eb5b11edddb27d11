"""Correlation matrix throughput: a 60 x 60 benchmark matrix over 400 runs through the engine vs
the same library calls done bare, measured in the same run.

Data: 400 runs x 60 benchmarks of synthetic accuracies (one latent quality per run plus noise),
as 24 000 long rows, given to both sides as columns ({column: values}, what
engine.store.eval_columns.eval_result_columns returns and the use case reads).
- engine: engine.analysis.correlations.run.run(columns, "matrix"): polars frame, duplicate
  check, pivot, category order, engine.analysis.correlations.stats.block (np.corrcoef for r, scipy's
  pearsonr null distribution for p, scipy.stats.pearsonr on the diagonal), the JSON-ready
  {rows, cols, r, p, n} (the use case minus reading SQLite).
- bare: the same columns pivoted with a dict into a numpy array, the same two library calls
  the engine's matrix step makes, `np.corrcoef(x, rowvar=False)` and scipy's pearsonr p
  (`2 * scipy.special.betaincc(n/2 - 1, n/2 - 1, (|r| + 1) / 2)`, the beta null distribution
  scipy.stats.pearsonr uses), `.tolist()`.
So the ratio bare / engine is the engine's overhead over the bare computation (1.0x = none).
Also shown: the matrix step alone (engine.analysis.correlations.stats.block vs those bare calls), the
broadcast `scipy.stats.pearsonr(x[:, :, None], x[:, None, :], axis=0)` the engine used before
(same numbers), the use case through a workspace (engine.api.analysis_corr.corr, SQLite read
included), and the naive per-pair `scipy.stats.pearsonr` loop (3600 calls) for scale. Best of
`--repeat` each.

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

from engine.analysis.correlations.run import run  # noqa: E402
from engine.analysis.correlations.stats import block  # noqa: E402


def long_rows(n_runs: int, n_bench: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n_runs)
    load = rng.uniform(0.2, 1.0, size=n_bench)
    vals = 0.5 + 0.05 * z[:, None] * load[None, :] + 0.02 * rng.normal(size=(n_runs, n_bench))
    return [
        {
            "run": f"run{i:04d}",
            "size": "1B",
            "params": 10**9,
            "stage": None,
            "benchmark": f"bench{j:02d}",
            "category": None,
            "metric": "acc",
            "value": float(vals[i, j]),
            "attrs": None,
            "source": "bench",
        }
        for i in range(n_runs)
        for j in range(n_bench)
    ]


def columns(rows: list[dict]) -> dict[str, list]:
    """The long rows as {column: values}, the columns eval_result_columns reads."""
    from engine.store.eval_columns import COLUMNS

    return {k: [r.get(k) for r in rows] for k in COLUMNS}


def bare_matrix(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The engine's two library calls on a complete runs x benchmarks matrix: r, p."""
    from scipy import special

    r = np.clip(np.corrcoef(x, rowvar=False), -1.0, 1.0)
    ab = x.shape[0] / 2 - 1
    return r, 2 * special.betaincc(ab, ab, (np.abs(r) + 1.0) / 2)


def bare(cols: dict[str, list]) -> dict:
    runs = sorted(set(cols["run"]))
    bms = sorted(set(cols["benchmark"]))
    ri = {r: i for i, r in enumerate(runs)}
    bi = {b: j for j, b in enumerate(bms)}
    x = np.full((len(runs), len(bms)), np.nan)
    for run_, bm, v in zip(cols["run"], cols["benchmark"], cols["value"], strict=True):
        x[ri[run_], bi[bm]] = v
    r, p = bare_matrix(x)
    return {"rows": bms, "cols": bms, "r": r.tolist(), "p": p.tolist()}


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

    from engine.api.analysis_corr import CorrRequest, corr
    from engine.store import evals
    from engine.store.db import transaction
    from engine.workspace import Workspace

    rows = long_rows(n_runs, n_bench)
    cols = columns(rows)
    print(
        f"correlation matrix: {n_bench} x {n_bench} benchmarks over {n_runs} runs "
        f"({len(rows)} long rows)"
    )
    t_eng, t_bare = [], []
    res = want = None
    for _ in range(repeat):  # alternate the two
        t, res = best(lambda: run(cols, CorrRequest("matrix")), 1)
        t_eng.append(t)
        t, want = best(lambda: bare(cols), 1)
        t_bare.append(t)
    m = res.parts["matrices"][0]  # type: ignore[union-attr]
    assert m["rows"] == want["rows"]  # type: ignore[index]
    for key in ("r", "p"):
        got = np.array(m[key], dtype=float)
        assert np.allclose(got, want[key], rtol=1e-9, atol=1e-10, equal_nan=True)  # type: ignore[index]
    eng, base = min(t_eng), min(t_bare)
    x = np.array(
        [[r["value"] for r in rows[i * n_bench : (i + 1) * n_bench]] for i in range(n_runs)]
    )
    names = [f"bench{j:02d}" for j in range(n_bench)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_block, _ = best(lambda: block(x, x, names, names), repeat)
        t_call, _ = best(lambda: bare_matrix(x), repeat)
        t_old, _ = best(lambda: stats.pearsonr(x[:, :, None], x[:, None, :], axis=0), repeat)
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
        t_api, _ = best(lambda: corr(ws, CorrRequest("matrix")), repeat)
    print(
        f"  matrix step: engine block {t_block * 1e3:.1f} ms | bare corrcoef + beta p "
        f"{t_call * 1e3:.1f} ms | ratio {t_call / t_block:.2f}x (broadcast pearsonr call "
        f"{t_old * 1e3:.1f} ms)"
    )
    print(
        f"  use case via a workspace (SQLite read included): {t_api * 1e3:.0f} ms; "
        f"naive per-pair pearsonr loop: {t_loop * 1e3:.0f} ms"
    )
    print(
        f"engine {eng * 1e3:.1f} ms | bare {base * 1e3:.1f} ms | ratio {base / eng:.2f}x of "
        f"baseline (goal >= 0.8x)"
    )
    return {
        "engine_s": eng,
        "bare_s": base,
        "ratio": base / eng,
        "block_s": t_block,
        "call_s": t_call,
        "pearsonr_s": t_old,
        "api_s": t_api,
        "loop_s": t_loop,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=400)
    ap.add_argument("--benchmarks", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    bench_corr(args.runs, args.benchmarks, args.repeat)


if __name__ == "__main__":
    main()
