"""Proxy -> target fits (METHODS 3, rBridge sec. 4.1): points (x = a proxy metric of the small
model, y = a target metric of the large model), one per matched tokens count or step.

The hypothesis space is four functions: linear `a+bx`, quadratic `a+bx+cx^2` (numpy.polynomial),
exponential `a*exp(bx)+c` (scipy.optimize.curve_fit with p0 and maxfev) and logarithmic
`a+b*log(x)` (only when every x > 0). Points are ordered by the matching key before splitting;
5-fold CV (KFold shuffle=True, random_state=0) chooses per fold the function with the best
*train* R^2 and records its test MAE; fewer than 5 points use leave-one-out. A function that
cannot be fitted (too few points, no convergence) is skipped, and `notes` says so.

The final fit (on all points) uses the function chosen in most folds (a tie goes to the one with
the higher R^2 on all points, then to the order of FUNCTIONS).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.polynomial import polynomial as P
from scipy.optimize import OptimizeWarning, curve_fit

from engine.errors import UsageError

FUNCTIONS = ("linear", "quadratic", "exponential", "logarithmic")
PARAM_NAMES = {
    "linear": ("a", "b"),
    "quadratic": ("a", "b", "c"),
    "exponential": ("a", "b", "c"),
    "logarithmic": ("a", "b"),
}
FORMULAS = {
    "linear": "a + b*x",
    "quadratic": "a + b*x + c*x^2",
    "exponential": "a*exp(b*x) + c",
    "logarithmic": "a + b*log(x)",
}
N_FOLDS = 5
MIN_POINTS = 3  # engine.analysis.pairing uses the same
MAXFEV = 10_000


class FitFailed(Exception):
    """One function could not be fitted to one set of points (skipped, not fatal)."""


@dataclass(frozen=True)
class Fold:
    """One CV fold: the indices (into the key-ordered points), the train R^2 of every function
    that could be fitted, and the chosen function's train R^2 and test MAE."""

    index: int
    train: tuple[int, ...]
    test: tuple[int, ...]
    candidates: dict[str, float]
    function: str | None
    train_r2: float | None
    test_mae: float | None


@dataclass(frozen=True)
class FinalFit:
    name: str
    params: dict[str, float]
    r2: float
    formula: str


@dataclass
class FitResult:
    x: np.ndarray  # ordered by key
    y: np.ndarray
    keys: np.ndarray
    cv: str  # "5-fold" | "leave-one-out"
    folds: list[Fold]
    functions: list[str | None]  # chosen per fold
    train_r2: float  # mean over the folds that chose a function
    test_mae: float
    final: FinalFit
    predictions: np.ndarray  # the final fit at every x (key order)
    space: tuple[str, ...]  # the functions tried
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.x)


# -- the four functions -------------------------------------------------------------------------
def _exp(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a * np.exp(b * x) + c


def predict(name: str, params: dict[str, float] | Sequence[float], x) -> np.ndarray:
    """The function `name` with `params` ({a, b[, c]} or a sequence) at x."""
    x = np.asarray(x, dtype=float)
    p = [params[k] for k in PARAM_NAMES[name]] if isinstance(params, dict) else list(params)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if name in ("linear", "quadratic"):
            return P.polyval(x, p)
        if name == "exponential":
            return _exp(x, *p)
        if name == "logarithmic":
            return p[0] + p[1] * np.log(x)
    raise UsageError(f"unknown function '{name}'", fix=f"use one of {', '.join(FUNCTIONS)}")


def fit_function(name: str, x: np.ndarray, y: np.ndarray, *, maxfev: int = MAXFEV) -> np.ndarray:
    """Parameters of `name` fitted to (x, y) by least squares; FitFailed when it cannot be."""
    k = len(PARAM_NAMES[name])
    if len(x) < k:
        raise FitFailed(f"{len(x)} point(s) for {k} parameters")
    if name == "logarithmic" and np.any(x <= 0):
        raise FitFailed("log needs x > 0")
    # numpy warns (on stderr) that a fit on too few distinct x is poorly conditioned: the
    # notes of cross_validate say so instead
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", np.exceptions.RankWarning)
        if name == "linear":
            return P.polyfit(x, y, 1)
        if name == "quadratic":
            return P.polyfit(x, y, 2)
        if name == "logarithmic":
            return P.polyfit(np.log(x), y, 1)
        return _fit_exponential(x, y, maxfev)


def exp_p0(u: np.ndarray, y: np.ndarray) -> list[float]:
    """A starting point for a*exp(b*u)+c (u = x - min x): b = +-1/range(u) (the sign of the
    trend), then a and c by linear least squares with b fixed."""
    span = float(np.ptp(u)) or 1.0
    slope = np.polyfit(u, y, 1)[0] if np.ptp(u) > 0 else 0.0
    b0 = (1.0 if slope >= 0 else -1.0) / span
    design = np.column_stack([np.exp(b0 * u), np.ones_like(u)])
    (a0, c0), *_ = np.linalg.lstsq(design, y, rcond=None)
    return [float(a0) or 1.0, b0, float(c0)]


def _fit_exponential(x: np.ndarray, y: np.ndarray, maxfev: int) -> np.ndarray:
    """curve_fit on x shifted to start at 0 (well scaled), then a = a' * exp(-b * min x)."""
    x0 = float(np.min(x))
    u = x - x0
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", OptimizeWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            (a, b, c), _ = curve_fit(_exp, u, y, p0=exp_p0(u, y), maxfev=maxfev)
            params = np.array([a * np.exp(-b * x0), b, c])
    except (RuntimeError, ValueError, np.linalg.LinAlgError) as exc:
        raise FitFailed(f"did not converge ({str(exc).splitlines()[0]})") from exc
    if not np.all(np.isfinite(params)) or not np.all(np.isfinite(_exp(x, *params))):
        raise FitFailed("did not converge (non-finite parameters)")
    return params


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """1 - SS_res/SS_tot, as sklearn.metrics.r2_score (a constant y: 1.0 if exact, else 0.0;
    "exact" to within rounding, so a constant fitted by least squares is exact)."""
    res = y - pred
    ss_res = float(res @ res)
    if np.ptp(y) == 0:
        scale = 1e-9 * max(1.0, abs(float(y[0]))) if len(y) else 0.0
        return 1.0 if ss_res <= len(y) * scale * scale else 0.0
    dev = y - y.mean()
    return 1.0 - ss_res / float(dev @ dev)


# -- cross-validation ---------------------------------------------------------------------------
def check_functions(functions: Sequence[str] | None) -> tuple[str, ...]:
    if not functions:
        return FUNCTIONS
    bad = [f for f in functions if f not in FUNCTIONS]
    if bad:
        raise UsageError(
            f"unknown function(s): {', '.join(bad)}",
            fix=f"choose among {', '.join(FUNCTIONS)} (comma-separated)",
        )
    return tuple(dict.fromkeys(functions))


def splits(n: int) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """("5-fold", the folds of sklearn's KFold(5, shuffle=True, random_state=0)) or
    ("leave-one-out", ...) under 5 points: (train, test) index arrays, each ascending.

    Written out with numpy (the same permutation, RandomState(0).shuffle, and the same fold
    sizes: the first n % 5 folds one larger) because importing sklearn took ~1.8 s of the
    Analysis screen's first fit; tests/unit/test_fits.py holds it equal to sklearn's."""
    idx = np.arange(n)
    if n < N_FOLDS:
        return "leave-one-out", [(np.delete(idx, i), idx[i : i + 1]) for i in range(n)]
    order = idx.copy()
    np.random.RandomState(0).shuffle(order)
    sizes = np.full(N_FOLDS, n // N_FOLDS)
    sizes[: n % N_FOLDS] += 1
    folds, start = [], 0
    for size in sizes:
        test = np.zeros(n, dtype=bool)
        test[order[start : start + size]] = True
        folds.append((idx[~test], idx[test]))
        start += size
    return "5-fold", folds


def cross_validate(
    x,
    y,
    keys=None,
    *,
    functions: Sequence[str] | None = None,
    maxfev: int = MAXFEV,
) -> FitResult:
    """The whole of METHODS 3 on one set of points (any order: they are sorted by `keys`, or
    kept in the given order when keys is None)."""
    space = check_functions(functions)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keys = np.arange(len(x)) if keys is None else np.asarray(keys)
    if not (len(x) == len(y) == len(keys)):
        raise ValueError("x, y and keys differ in length")
    if len(x) < MIN_POINTS:
        raise UsageError(
            f"{len(x)} matched point(s): a fit needs at least {MIN_POINTS}",
            fix="match on the other key (tokens or step), or import more checkpoints",
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite (drop missing values first)")
    order = np.argsort(keys, kind="stable")
    x, y, keys = x[order], y[order], keys[order]
    notes: list[str] = constant_notes(x, y)
    if "logarithmic" in space and np.any(x <= 0):
        notes.append(f"logarithmic skipped: {int(np.sum(x <= 0))} point(s) have x <= 0")
        space_used = tuple(f for f in space if f != "logarithmic")
    else:
        space_used = space
    if not space_used:
        raise UsageError(
            "no function left to fit (logarithmic needs every x > 0)",
            fix="add linear, quadratic or exponential to --functions",
        )
    cv, folds_idx = splits(len(x))
    if cv == "leave-one-out":
        notes.append(f"leave-one-out instead of 5-fold CV: only {len(x)} points")
    skipped: dict[tuple[str, str], list[str]] = {}
    folds = []
    for i, (tr, te) in enumerate(folds_idx):
        cands: dict[str, float] = {}
        fitted: dict[str, np.ndarray] = {}
        for name in space_used:
            try:
                params = fit_function(name, x[tr], y[tr], maxfev=maxfev)
            except FitFailed as exc:
                skipped.setdefault((name, str(exc)), []).append(str(i + 1))
                continue
            cands[name] = r2_score(y[tr], predict(name, params, x[tr]))
            fitted[name] = params
        if not cands:
            folds.append(Fold(i, tuple(tr), tuple(te), {}, None, None, None))
            continue
        best = max(cands, key=lambda f: (cands[f], -space_used.index(f)))
        mae = float(np.mean(np.abs(y[te] - predict(best, fitted[best], x[te]))))
        folds.append(Fold(i, tuple(tr), tuple(te), cands, best, cands[best], mae))
    for (name, why), where in skipped.items():
        notes.append(f"{name} skipped in fold(s) {', '.join(where)}: {why}")
    chosen = [f.function for f in folds]
    done = [f for f in folds if f.function is not None]
    if not done:
        raise UsageError(
            "no function could be fitted in any fold",
            fix="check the points (betr fit --json shows them) or allow more functions",
        )
    final = _final(x, y, [f.function for f in done], space_used, maxfev, notes)
    return FitResult(
        x=x,
        y=y,
        keys=keys,
        cv=cv,
        folds=folds,
        functions=chosen,
        train_r2=float(np.mean([f.train_r2 for f in done])),
        test_mae=float(np.mean([f.test_mae for f in done])),
        final=final,
        predictions=predict(final.name, final.params, x),
        space=space_used,
        notes=notes,
    )


def constant_notes(x: np.ndarray, y: np.ndarray) -> list[str]:
    """What a fit on constant data can and cannot say (its R^2 alone would not tell)."""
    notes = []
    if np.ptp(y) == 0:
        notes.append(
            f"the target (y) is {y[0]:g} at every point: any constant fits it exactly, so R^2 "
            "is 1 by convention and says nothing about how y follows x"
        )
    if np.ptp(x) == 0:
        notes.append(
            f"the proxy (x) is {x[0]:g} at every point: no function of x can follow y; a fit "
            "predicts at most the mean of y"
        )
    return notes


def _final(x, y, chosen, space, maxfev, notes) -> FinalFit:
    """The function chosen in most folds, fitted on all points (a tie in the count goes to
    the higher R^2 on all points, then to the order of the space)."""
    counts = Counter(chosen)
    fits: dict[str, tuple[np.ndarray, float]] = {}
    for tier in sorted(set(counts.values()), reverse=True):
        for name in (n for n in space if counts.get(n) == tier):
            try:
                params = fit_function(name, x, y, maxfev=maxfev)
            except FitFailed as exc:
                notes.append(f"final fit: {name} skipped ({exc})")
                continue
            fits[name] = (params, r2_score(y, predict(name, params, x)))
        if fits:
            break
    if not fits:
        raise UsageError("the final fit on all points failed for every chosen function")
    name = max(fits, key=lambda n: (fits[n][1], -space.index(n)))
    params, r2 = fits[name]
    return FinalFit(
        name, dict(zip(PARAM_NAMES[name], map(float, params), strict=True)), r2, FORMULAS[name]
    )
