"""Analysis throughput vs the same scipy/numpy calls done bare, measured in the same run.

Fit: engine.analysis.fits.cross_validate on `--points` (x, y) points (5-fold CV over the four
functions, then the final fit) against a bare loop making the same calls: KFold(5, shuffle,
seed 0) on the key-ordered points, numpy.polynomial.polyfit for linear, quadratic and
logarithmic, scipy.optimize.curve_fit (same p0, same maxfev) for the exponential, R^2 and MAE
with numpy, then the same fits on all points. Also (for information) the whole use case
`engine.api.analysis_fit.fit`: read the rows from SQLite, match them with polars, then the same
fit. Each side runs `--iters` fits per round, `--repeat` rounds alternating; the best of each
is compared. When bench/analysis_corr.py exists (the correlation matrices), its `bench_corr()`
runs after.

    python bench/analysis.py [--points 40] [--iters 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
import warnings
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from numpy.polynomial import polynomial as P  # noqa: E402
from scipy.optimize import OptimizeWarning, curve_fit  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402

from engine.analysis.fits import MAXFEV, cross_validate  # noqa: E402


def points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A proxy accuracy rising with training and a target accuracy that follows it (noisy)."""
    rng = np.random.default_rng(seed)
    keys = np.arange(1, n + 1) * 1_000_000
    x = 0.25 + 0.4 * (1 - np.exp(-keys / (n * 300_000))) + rng.normal(0, 0.005, n)
    y = 0.05 * np.exp(3.0 * x) + 0.1 + rng.normal(0, 0.01, n)
    perm = rng.permutation(n)
    return x[perm], y[perm], keys[perm]


def _exp(x, a, b, c):
    return a * np.exp(b * x) + c


def _r2(y, p):
    return 1.0 - np.sum((y - p) ** 2) / np.sum((y - np.mean(y)) ** 2)


def _bare_fit(name, x, y):
    if name == "linear":
        p = P.polyfit(x, y, 1)
        return lambda v: P.polyval(v, p)
    if name == "quadratic":
        p = P.polyfit(x, y, 2)
        return lambda v: P.polyval(v, p)
    if name == "logarithmic":
        p = P.polyfit(np.log(x), y, 1)
        return lambda v: p[0] + p[1] * np.log(v)
    x0 = x.min()
    u = x - x0
    b0 = (1.0 if np.polyfit(u, y, 1)[0] >= 0 else -1.0) / np.ptp(u)
    (a0, c0), *_ = np.linalg.lstsq(
        np.column_stack([np.exp(b0 * u), np.ones_like(u)]), y, rcond=None
    )
    (a, b, c), _ = curve_fit(_exp, u, y, p0=[a0, b0, c0], maxfev=MAXFEV)
    return lambda v: _exp(v, a * np.exp(-b * x0), b, c)


def bare_cv(x, y, keys):
    """The same calls as cross_validate, with nothing around them."""
    order = np.argsort(keys, kind="stable")
    x, y = x[order], y[order]
    names = ("linear", "quadratic", "exponential", "logarithmic")
    r2s, maes, chosen = [], [], []
    for tr, te in KFold(n_splits=5, shuffle=True, random_state=0).split(x):
        fitted = {n: _bare_fit(n, x[tr], y[tr]) for n in names}
        scores = {n: _r2(y[tr], f(x[tr])) for n, f in fitted.items()}
        best = max(scores, key=scores.get)
        chosen.append(best)
        r2s.append(scores[best])
        maes.append(np.mean(np.abs(y[te] - fitted[best](x[te]))))
    best = max(names, key=chosen.count)  # (no tie in this bench's folds)
    return chosen, np.mean(r2s), np.mean(maes), _bare_fit(best, x, y)(x)


def timed(fn, iters: int) -> float:
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) / iters


def workspace_with(tmp: Path, x, y, keys):
    from engine.store.db import transaction
    from engine.store.evals import insert_eval_results
    from engine.workspace import Workspace

    ws = Workspace.init(tmp / "ws")
    rows = []
    for xv, yv, k in zip(x, y, keys, strict=True):
        base = {"benchmark": "arc", "metric": "acc", "tokens": int(k), "source": "bench"}
        rows.append({**base, "run": "small", "value": float(xv)})
        rows.append({**base, "run": "large", "value": float(yv)})
    with closing(ws.connect()) as conn, transaction(conn):
        insert_eval_results(conn, rows)
    return ws


def bench_fit(n_points: int = 40, iters: int = 30, repeat: int = 3) -> float:
    """Print pipeline vs bare fits/s; returns the ratio (bare time / pipeline time)."""
    from engine.api.analysis_fit import FitRequest, fit

    x, y, keys = points(n_points)
    res = cross_validate(x, y, keys)
    chosen, r2, mae, _ = bare_cv(x, y, keys)
    assert (
        res.functions == chosen and np.isclose(res.train_r2, r2) and np.isclose(res.test_mae, mae)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        with tempfile.TemporaryDirectory(prefix="betr-bench-analysis-") as tmp:
            ws = workspace_with(Path(tmp), x, y, keys)
            t_pipe, t_bare, t_api = [], [], []
            args = {
                "benchmark": "arc",
                "x_run": "small",
                "x_metric": "acc",
                "y_run": "large",
                "y_metric": "acc",
            }
            for i in range(repeat):
                t_bare.append(timed(lambda: bare_cv(x, y, keys), iters))
                t_pipe.append(timed(lambda: cross_validate(x, y, keys), iters))
                t_api.append(timed(lambda: fit(ws, FitRequest(**args)), max(1, iters // 3)))
                print(
                    f"  round {i + 1}: bare {t_bare[-1] * 1e3:.2f} ms | cross_validate "
                    f"{t_pipe[-1] * 1e3:.2f} ms | api fit (SQLite + polars + fit) "
                    f"{t_api[-1] * 1e3:.2f} ms"
                )
    bare, pipe, api = min(t_bare), min(t_pipe), min(t_api)
    ratio = bare / pipe
    print(
        f"fit, {n_points} points, 5-fold CV over 4 functions (chose {', '.join(res.functions)}): "
        f"pipeline {1 / pipe:,.0f} fits/s | bare {1 / bare:,.0f} fits/s | ratio {ratio:.2f}x of "
        f"bare (goal >= 0.8x) | api end to end {1 / api:,.0f} fits/s ({bare / api:.2f}x)"
    )
    return ratio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=40)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"analysis bench ({os.cpu_count()} cores)")
    bench_fit(args.points, args.iters, args.repeat)
    corr = REPO / "bench" / "analysis_corr.py"
    if corr.is_file():
        spec = importlib.util.spec_from_file_location("bench_analysis_corr", corr)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.bench_corr()
    else:
        print("(bench/analysis_corr.py absent: no correlation-matrix bench)")


if __name__ == "__main__":
    main()
