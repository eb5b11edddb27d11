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

Where the engine's time goes (`stages`: each step of `run` timed on its own, printed next to
the bare path's pivot, matrix and output). At 400 x 60 on a loaded 2-core machine: engine frame
~1.5-2.5 + pivot ~1.7-2.0 ms against the bare dict pivot's ~3.6-4 ms (no overhead there: most of
the frame is polars converting the 24 000 Python run and benchmark strings, ~0.45 ms each, what
the dict lookups cost the bare side; the pivot includes the duplicate check), block ~7.5
against the bare calls' ~6.8 ms, then what the result needs and the bare path does not have:
- the block's scipy.stats.pearsonr call for the diagonal (~0.65 ms): a column with itself is 1
  up to the rounding scipy.stats.pearsonr gives, the number the per-pair tests check
  (np.corrcoef's diagonal differs in the last bits, in 30 of these 60 cells);
- checks (~0.5 ms): the metric list (for the error naming the metrics there are), the category
  map (the category order of the rows and columns, the categories the result carries), the
  scale order and the pairing (which matrices to compute);
- output (~0.2 ms against .tolist()'s ~0.1): the category order, n per cell, None for n/a.
Together ~1.5 ms over a ~10.5 ms bare path (ratio ~0.80-0.85x): what is left while the engine
gives scipy's own diagonal and the metadata above.

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


def bare_pivot(cols: dict[str, list]) -> tuple[list[str], np.ndarray]:
    """The benchmarks (sorted) and the runs x benchmarks matrix, pivoted with dicts."""
    runs = sorted(set(cols["run"]))
    bms = sorted(set(cols["benchmark"]))
    ri = {r: i for i, r in enumerate(runs)}
    bi = {b: j for j, b in enumerate(bms)}
    x = np.full((len(runs), len(bms)), np.nan)
    for run_, bm, v in zip(cols["run"], cols["benchmark"], cols["value"], strict=True):
        x[ri[run_], bi[bm]] = v
    return bms, x


def bare(cols: dict[str, list]) -> dict:
    bms, x = bare_pivot(cols)
    r, p = bare_matrix(x)
    return {"rows": bms, "cols": bms, "r": r.tolist(), "p": p.tolist()}


def stages(cols: dict[str, list], repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """Best-of-`repeat` seconds of each step of the two paths. Engine, its functions called
    as `run` and protocols.matrices call them: frame (pivots.frame: the columns into polars),
    checks (the metric list, the category map, the scale order, the pairing), pivot
    (pivots.matrices, with its duplicate check), block (stats.block), diagonal (the
    scipy.stats.pearsonr call block makes for the diagonal, part of block), output (the
    category order and the JSON-ready dict). Bare: pivot (the dict pivot), matrix
    (bare_matrix), output (.tolist())."""
    from scipy import stats

    from engine.analysis.correlations import pivots
    from engine.analysis.correlations import protocols as cp

    eng: dict[str, list[float]] = {}
    base: dict[str, list[float]] = {}

    def timed(into: dict[str, list[float]], name: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        into.setdefault(name, []).append(time.perf_counter() - t0)
        return out

    def checks(df):
        metrics = sorted(pivots.distinct(df["metric"]))
        cats = pivots.category_map(df)
        return metrics, cats, pivots.scales(df)

    def order(pv, cats):
        bms = cp.ordered(pv.benchmarks, cats)
        return bms, pv.reindex(pv.runs, bms)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeat):
            df = timed(eng, "frame", pivots.frame, cols)
            _metrics, cats, scales = timed(eng, "checks", checks, df)
            acc = timed(eng, "pivot", pivots.matrices, df, "acc")
            selected, _axis, _ctxs = timed(eng, "pairing", cp.resolve, list(acc), scales)
            pv = acc[selected[0]]
            bms, x = timed(eng, "order", order, pv, cats)
            m = timed(eng, "block", block, x, x, bms, bms, "pearson", kind="within")
            timed(eng, "json", cp._matrix, m, cats, pv.scale, stage=pv.stage or None)
            timed(eng, "diagonal", stats.pearsonr, x, x, axis=0)
            _bms, xb = timed(base, "pivot", bare_pivot, cols)
            r, p = timed(base, "matrix", bare_matrix, xb)
            timed(base, "output", lambda r, p: (r.tolist(), p.tolist()), r, p)

    def best_sum(*names: str) -> float:  # the best repeat of steps timed apart
        return min(sum(t) for t in zip(*(eng.pop(n) for n in names), strict=True))

    e = {"checks": best_sum("checks", "pairing"), "output": best_sum("order", "json")}
    e.update({k: min(v) for k, v in eng.items()})
    return e, {k: min(v) for k, v in base.items()}


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
    e, b = stages(cols, repeat)

    def ms(d: dict[str, float], keys: tuple[str, ...]) -> str:
        return " + ".join(f"{k} {d[k] * 1e3:.1f}" for k in keys)

    print(
        f"  stages (ms): engine {ms(e, ('frame', 'checks', 'pivot', 'block', 'output'))} "
        f"(the block's pearsonr diagonal {e['diagonal'] * 1e3:.1f}) | bare "
        f"{ms(b, ('pivot', 'matrix', 'output'))}"
    )
    print(
        f"engine {eng * 1e3:.1f} ms | bare {base * 1e3:.1f} ms | ratio {base / eng:.2f}x of "
        f"baseline (goal >= 0.8x)"
    )
    return {
        **{f"engine_{k}_s": v for k, v in e.items()},
        **{f"bare_{k}_s": v for k, v in b.items()},
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
