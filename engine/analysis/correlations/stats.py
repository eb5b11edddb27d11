"""Benchmark correlation statistics (METHODS 4, papers/magic-correlations-pt-to-sft.md sec. 3.3,
App. C). Pure: numpy arrays in, numbers out.

Every correlation is Pearson (default) or Spearman (scipy.stats), reported with its p-value
(two-sided) and n, the number of runs both vectors have a finite value for (missing values are
dropped pair by pair and counted). n < 3 or a constant vector (over those n) gives "n/a":
r = p = None, never a number.

A runs x benchmarks matrix is an array with one row per run (a data mixture, a checkpoint) and
NaN where a run has no value. `block(A, B)` correlates every column of A with every column of B
over the runs: PT-PT is block(PT, PT), SFT-SFT block(SFT, SFT), PT->SFT block(PT, SFT) (its
diagonal is the cross-stage r of each benchmark). Columns without a missing value take one
np.corrcoef call (the p-values from the null distribution scipy.stats.pearsonr / spearmanr use);
pairs with a missing value are computed all at once over their pairwise-complete runs. Both
agree with scipy.stats.pearsonr / spearmanr on each pair (the tests check to 1e-10).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

METHODS = ("pearson", "spearman")
TIERS = ("highly reliable", "moderate", "unreliable", "n/a")
HIGH, LOW = 0.6, 0.3


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


@dataclass(frozen=True)
class Corr:
    """One correlation: r and p are None under the n/a rules; dropped = pairs with a missing
    value (NaN) left out."""

    r: float | None
    p: float | None
    n: int
    dropped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"r": self.r, "p": self.p, "n": self.n, "dropped": self.dropped}


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def corr(x: Sequence[float], y: Sequence[float], method: str = "pearson") -> Corr:
    """corr(x, y) over the positions where both are finite (pairwise complete)."""
    check_method(method)
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape or xa.ndim != 1:
        raise ValueError(f"corr needs two vectors of one length, got {xa.shape} and {ya.shape}")
    keep = np.isfinite(xa) & np.isfinite(ya)
    n = int(keep.sum())
    dropped = len(xa) - n
    xa, ya = xa[keep], ya[keep]
    if n < 3 or np.all(xa == xa[0]) or np.all(ya == ya[0]):
        return Corr(None, None, n, dropped)
    from scipy import stats

    fn = stats.pearsonr if method == "pearson" else stats.spearmanr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fn(xa, ya)
    r, p = _num(float(res.statistic)), _num(float(res.pvalue))
    if r is None:
        return Corr(None, None, n, dropped)
    return Corr(r, p, n, dropped)


@dataclass
class Matrix:
    """r[i][j] = corr over runs of column i of the row matrix and column j of the column
    matrix; r and p are NaN where n/a."""

    rows: list[str]
    cols: list[str]
    r: np.ndarray
    p: np.ndarray
    n: np.ndarray
    kind: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def cell(self, i: int, j: int) -> Corr:
        return Corr(_num(self.r[i, j]), _num(self.p[i, j]), int(self.n[i, j]))

    def as_dict(self) -> dict[str, Any]:
        """{rows, cols, r, p, n} with None for n/a (JSON-ready)."""

        def nested(a: np.ndarray) -> list[list[float | None]]:
            finite = np.isfinite(a)
            if finite.all():  # no n/a cell: the floats as they are
                return a.tolist()
            obj = a.astype(object)
            obj[~finite] = None
            return obj.tolist()

        return {
            "kind": self.kind,
            **self.meta,
            "rows": list(self.rows),
            "cols": list(self.cols),
            "r": nested(self.r),
            "p": nested(self.p),
            "n": self.n.astype(int).tolist(),
        }


def _constant_cols(a: np.ndarray) -> np.ndarray:
    return np.all(a == a[:1], axis=0) if len(a) else np.ones(a.shape[1], dtype=bool)


def _p_values(r: np.ndarray, n: np.ndarray | int, method: str) -> np.ndarray:
    """Two-sided p of r over n runs, by the null distributions scipy.stats uses: pearsonr's
    beta(n/2 - 1, n/2 - 1) on (-1, 1) (2 * special.betaincc), spearmanr's Student t with
    n - 2 degrees of freedom (2 * special.stdtr(n - 2, -|t|))."""
    from scipy import special

    if method == "pearson":
        ab = np.asarray(n, dtype=np.float64) / 2 - 1
        return 2 * special.betaincc(ab, ab, (np.abs(r) - -1.0) / 2)
    dof = np.asarray(n, dtype=np.float64) - 2
    t = r * np.sqrt((dof / ((r + 1.0) * (1.0 - r))).clip(0))
    return 2 * special.stdtr(dof, -np.abs(t))


def _complete_block(
    a: np.ndarray, b: np.ndarray, method: str, same: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """r, p (k1 x k2) for non-constant columns without a missing value: r from one
    np.corrcoef call (of the columns, or of their ranks (scipy.stats.rankdata) for Spearman,
    as spearmanr does), p from scipy's null distribution (_p_values). same: b is a."""
    from scipy import stats

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if method == "spearman":
            a = stats.rankdata(a, axis=0)
            b = a if same else stats.rankdata(b, axis=0)
        k1 = a.shape[1]
        if not same:
            r = np.clip(np.corrcoef(a, b, rowvar=False)[:k1, k1:], -1.0, 1.0)
            return r, _p_values(r, a.shape[0], method)
        r = np.clip(np.corrcoef(a, rowvar=False).reshape(k1, k1), -1.0, 1.0)
        if method == "pearson":  # a column with itself: r = 1 up to rounding, as pearsonr has it
            np.fill_diagonal(r, stats.pearsonr(a, a, axis=0).statistic)
        return r, _p_values(r, a.shape[0], method)


def _pairwise_block(
    a: np.ndarray, b: np.ndarray, ii: np.ndarray, jj: np.ndarray, method: str
) -> tuple[np.ndarray, np.ndarray]:
    """r, p of the column pairs (a[:, ii[k]], b[:, jj[k]]) over the runs where both are finite,
    all pairs at once (runs x pairs arrays): Spearman ranks each pair's values
    (scipy.stats.rankdata, NaN omitted), then the centred two-pass Pearson formula
    pearsonr uses; NaN under the n/a rules (n < 3, or a constant vector over those runs)."""
    from scipy import stats

    x, y = a[:, ii], b[:, jj]
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = np.where(keep, x, np.nan), np.where(keep, y, np.nan)
    n = keep.sum(axis=0)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        const = (np.nanmax(x, axis=0) == np.nanmin(x, axis=0)) | (
            np.nanmax(y, axis=0) == np.nanmin(y, axis=0)
        )
        if method == "spearman":
            x = stats.rankdata(x, axis=0, nan_policy="omit")
            y = stats.rankdata(y, axis=0, nan_policy="omit")
        xm = np.where(keep, x - np.nanmean(x, axis=0), 0.0)
        ym = np.where(keep, y - np.nanmean(y, axis=0), 0.0)
        xm /= np.sqrt(np.einsum("ij,ij->j", xm, xm))
        ym /= np.sqrt(np.einsum("ij,ij->j", ym, ym))
        r = np.clip(np.einsum("ij,ij->j", xm, ym), -1.0, 1.0)
        na = (n < 3) | const | ~np.isfinite(r)
        r = np.where(na, np.nan, r)
        return r, np.where(na, np.nan, _p_values(r, np.maximum(n, 3), method))


def block(
    a: np.ndarray,
    b: np.ndarray,
    rows: Sequence[str],
    cols: Sequence[str],
    method: str = "pearson",
    kind: str = "",
) -> Matrix:
    """Every column of `a` (runs x k1) against every column of `b` (runs x k2), same runs."""
    check_method(method)
    same = a is b  # block(x, x): one correlation matrix of x's columns
    a = np.asarray(a, dtype=np.float64)
    b = a if same else np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"block needs two matrices over the same runs, got {a.shape}, {b.shape}")
    k1, k2 = a.shape[1], b.shape[1]
    if len(rows) != k1 or len(cols) != k2:
        raise ValueError("one row label per column of a and one col label per column of b")
    fa = np.isfinite(a)
    fb = fa if same else np.isfinite(b)
    ca, cb = fa.all(axis=0), fb.all(axis=0)
    if ca.all() and cb.all():
        n = np.full((k1, k2), a.shape[0], dtype=np.int64)
    else:
        n = np.rint(fa.astype(np.float64).T @ fb.astype(np.float64)).astype(np.int64)
    # complete, non-constant columns: one np.corrcoef call (constant ones are n/a anyway)
    ia = np.flatnonzero(ca & ~_constant_cols(a))
    ib = ia if same else np.flatnonzero(cb & ~_constant_cols(b))
    if len(ia) == k1 and len(ib) == k2 and a.shape[0] >= 3:  # every column: no copies
        r, p = _complete_block(a, b, method, same)
        return Matrix(list(rows), list(cols), r, np.where(np.isfinite(r), p, np.nan), n, kind)
    r = np.full((k1, k2), np.nan)
    p = np.full((k1, k2), np.nan)
    if len(ia) and len(ib) and a.shape[0] >= 3:
        sub = a[:, ia]
        rr, pp = _complete_block(sub, sub if same else b[:, ib], method, same)
        r[np.ix_(ia, ib)] = rr
        p[np.ix_(ia, ib)] = np.where(np.isfinite(rr), pp, np.nan)
    ii, jj = np.nonzero(~(ca[:, None] & cb[None, :]))  # pairs with a missing value
    if len(ii):
        r[ii, jj], p[ii, jj] = _pairwise_block(a, b, ii, jj, method)
    return Matrix(list(rows), list(cols), r, p, n, kind)


def diagonal(a: np.ndarray, b: np.ndarray, method: str = "pearson") -> list[Corr]:
    """corr(a[:, j], b[:, j]) for each column j (the cross-stage r per benchmark)."""
    return [corr(a[:, j], b[:, j], method) for j in range(np.asarray(a).shape[1])]


def upper(m: Matrix) -> np.ndarray:
    """The strict upper triangle (i < j) of a square matrix's r, row by row."""
    iu = np.triu_indices(len(m.rows), k=1)
    return m.r[iu]


def structural_persistence(pt: Matrix, sft: Matrix, method: str = "pearson") -> Corr:
    """corr between the upper triangles of PT-PT and SFT-SFT (same benchmarks in the same
    order); n/a cells of either are dropped and counted."""
    if pt.rows != sft.rows or pt.cols != sft.cols:
        raise ValueError("structural persistence needs the two matrices over the same benchmarks")
    return corr(upper(pt), upper(sft), method)


def coherence(
    m: Matrix, categories: Mapping[str, str | None], *, cross: bool = False
) -> list[dict[str, Any]]:
    """Intra-category coherence: per category, the mean of the pairwise r over i < j in the
    category (cross=True, for a PT->SFT matrix: over i != j). Pairs that are n/a are left out
    and counted; mean_r is None with no valid pair. Categories with one benchmark are skipped.
    Each row: category, benchmarks, mean_r, n_pairs (used), n_na, pairs [{i, j, r, p, n}]."""
    if m.rows != m.cols:
        raise ValueError("coherence needs a matrix over one set of benchmarks")
    groups: dict[str, list[int]] = {}
    for idx, b in enumerate(m.rows):
        cat = categories.get(b)
        if cat:
            groups.setdefault(cat, []).append(idx)
    out = []
    for cat in sorted(groups):
        idxs = groups[cat]
        if len(idxs) < 2:
            continue
        pairs, values, n_na = [], [], 0
        for a_i in idxs:
            for b_j in idxs:
                if a_i == b_j or (not cross and b_j < a_i):
                    continue
                c = m.cell(a_i, b_j)
                pairs.append({"i": m.rows[a_i], "j": m.cols[b_j], "r": c.r, "p": c.p, "n": c.n})
                if c.r is None:
                    n_na += 1
                else:
                    values.append(c.r)
        out.append(
            {
                "category": cat,
                "benchmarks": [m.rows[i] for i in idxs],
                "mean_r": float(np.mean(values)) if values else None,
                "n_pairs": len(values),
                "n_na": n_na,
                "pairs": pairs,
            }
        )
    return out


def tier(r_acc: Sequence[float | None], r_conf: Sequence[float | None]) -> str:
    """Reliability tier from the cross-stage r_acc and r_conf at every scale: unreliable if
    either is < 0.3 at any scale; highly reliable if both are > 0.6 at every scale; n/a if a
    value is n/a (and none is < 0.3); else moderate."""
    values = [*r_acc, *r_conf]
    if not values:
        return "n/a"
    known = [v for v in values if v is not None]
    if any(v < LOW for v in known):
        return "unreliable"
    if len(known) < len(values):
        return "n/a"
    if all(v > HIGH for v in known):
        return "highly reliable"
    return "moderate"


def mean_or_none(values: Sequence[float | None]) -> tuple[float | None, int]:
    """(mean of the values that are not None, how many)."""
    known = [v for v in values if v is not None]
    return (float(np.mean(known)) if known else None), len(known)
