"""Filter-rate trade-offs (METHODS 1, "Filter rate and compute"), run overlap and agreement.

Everything here is pure arithmetic over a `RunIndex`: the Threshold screen and `betr tradeoff`,
`betr overlap` and `betr agreement` call the same functions, so the screen and the CLI agree to
the last digit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from engine.betr.runindex import RunIndex
from engine.errors import UsageError
from engine.records import Record

F_OPT_COEF = 4e-5
F_OPT_EXP = 0.25
F_MIN_PERCENT, F_MAX_PERCENT = 0.1, 100.0
MAX_EPOCHS = 4.0  # beyond ~4 epochs repeated data stops paying (Muennighoff et al. 2023)
OVER_TARGET_SHARE = 0.5
COMPUTE_TABLE = tuple(float(f"1e{e}") for e in range(19, 25))  # exact 1e23, not 10.0**23


def f_opt_percent(compute: float) -> float:
    """F_opt(C) = 4e-5 * C^0.25 percent of tokens kept, clamped to [0.1, 100]."""
    check_positive("compute C", compute)
    return min(F_MAX_PERCENT, max(F_MIN_PERCENT, F_OPT_COEF * compute**F_OPT_EXP))


def check_positive(name: str, value: float | None) -> None:
    if value is None:
        return
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise UsageError(f"{name} must be a positive number, got {value}", fix=_FIX.get(name))


_FIX = {
    "model parameters N": "e.g. --params 1e9 (or 1B)",
    "training tokens D": "e.g. --tokens 2e10 (or 20B)",
    "compute C": "e.g. --compute 1e21",
}


def parse_amount(text: str | float, name: str) -> float:
    """ "1e9", "1B", "7b", "300M", "2.5T", "1e21" -> float; positive only."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        raw = str(text).strip().replace("_", "").replace(",", "")
        mult = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}.get(raw[-1:].lower(), 1.0)
        if mult != 1.0:
            raw = raw[:-1]
        try:
            value = float(raw) * mult
        except ValueError:
            raise UsageError(f"{name} '{text}' is not a number", fix=_FIX.get(name)) from None
    check_positive(name, value)
    return value


@dataclass
class Budget:
    """A training budget: model parameters N, training tokens D and compute C = 6ND."""

    params: float | None = None
    tokens: float | None = None
    compute: float | None = None

    @classmethod
    def of(
        cls, params: float | None = None, tokens: float | None = None, compute: float | None = None
    ) -> Budget:
        check_positive("model parameters N", params)
        check_positive("training tokens D", tokens)
        check_positive("compute C", compute)
        if params is not None and tokens is not None:
            if compute is not None and not math.isclose(compute, 6 * params * tokens, rel_tol=1e-6):
                raise UsageError(
                    f"--compute {compute:g} disagrees with 6 * N * D = {6 * params * tokens:g}",
                    fix="give N and D, or C with one of them",
                )
            compute = 6.0 * params * tokens
        elif compute is not None and params is not None:
            tokens = compute / (6.0 * params)
        elif compute is not None and tokens is not None:
            params = compute / (6.0 * tokens)
        elif params is not None or tokens is not None:
            raise UsageError(
                "need both model parameters N and training tokens D (or compute C)",
                fix="e.g. --params 1e9 --tokens 2e10, or --compute 1.2e20",
            )
        return cls(params, tokens, compute)

    @property
    def known(self) -> bool:
        return self.compute is not None

    def f_opt(self) -> float | None:
        return f_opt_percent(self.compute) if self.compute is not None else None


@dataclass(frozen=True)
class ComputeLaw(Record):
    """C, F_opt and, given a pool of T tokens and a compute, the kept tokens at F_opt and the
    epochs needed (the last three are left out of the JSON when unknown)."""

    params: float | None
    tokens: float | None
    compute: float | None
    f_opt_percent: float | None
    kept_tokens_at_f_opt: float | None = None  # None: no pool or no compute
    epochs_at_f_opt: float | None = None
    starvation_at_f_opt: bool = False

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        if self.kept_tokens_at_f_opt is None:
            for key in ("kept_tokens_at_f_opt", "epochs_at_f_opt", "starvation_at_f_opt"):
                del out[key]
        return out


@dataclass(frozen=True)
class ComputeRow(Record):
    """A row of the F_opt table: compute C, F_opt, and the kept tokens when the pool is known
    (left out of the JSON when not)."""

    compute: float
    f_opt_percent: float
    kept_tokens: float | None = None

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        if self.kept_tokens is None:
            del out["kept_tokens"]
        return out


def compute_law(budget: Budget, pool_tokens: int | None = None) -> ComputeLaw:
    """C, F_opt and, given a pool of T tokens, the kept tokens at F_opt and the epochs needed."""
    f_opt = budget.f_opt()
    if pool_tokens is None or budget.compute is None or f_opt is None:
        return ComputeLaw(budget.params, budget.tokens, budget.compute, f_opt)
    kept = f_opt / 100.0 * pool_tokens
    epochs, starved = _epochs(budget.tokens, kept)
    return ComputeLaw(budget.params, budget.tokens, budget.compute, f_opt, kept, epochs, starved)


def _epochs(tokens: float | None, kept: float) -> tuple[float | None, bool]:
    """(epochs needed to train on `tokens` from `kept` tokens, whether that starves)."""
    epochs = tokens / kept if tokens is not None and kept > 0 else None
    return epochs, bool(epochs is not None and epochs > MAX_EPOCHS)


def compute_table(pool_tokens: int | None = None) -> list[ComputeRow]:
    """F_opt for C = 1e19 .. 1e24, with kept tokens when the pool is known."""
    rows = []
    for c in COMPUTE_TABLE:
        f = f_opt_percent(c)
        rows.append(ComputeRow(c, f, None if pool_tokens is None else f / 100.0 * pool_tokens))
    return rows


@dataclass(frozen=True)
class BenchmarkShare(Record):
    """A target benchmark's share of the kept sample docs (their best benchmark is it)."""

    benchmark: str
    docs: int
    tokens: int
    share: float


@dataclass(frozen=True)
class ThresholdStats(Record):
    """What keeping `keep_percent` of a run's pool keeps, and each target benchmark's share of
    the kept set on the scored sample."""

    run_id: int
    keep_percent: float
    by: str  # a KEEP_BY unit
    threshold: float  # p(positive) of the last kept doc
    kept_docs: int
    kept_tokens: int
    total_docs: int
    total_tokens: int
    kept_doc_share: float
    kept_token_share: float
    sample_kept_docs: int
    sample_docs: int
    benchmark_shares: list[BenchmarkShare]  # largest share first
    over_targeted: list[str]  # benchmarks with a share over OVER_TARGET_SHARE


@dataclass(frozen=True)
class RunTradeoff(ThresholdStats):
    """`betr tradeoff --run`: the threshold numbers, the compute law over the run's pool, the
    epochs needed at the keep rate, and the F_opt table."""

    compute_law: ComputeLaw
    epochs_at_keep: float | None  # None: no training tokens D given
    starvation_at_keep: bool
    table: list[ComputeRow]

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), **_law_json(self.compute_law, self.table)}


@dataclass(frozen=True)
class BudgetTradeoff(Record):
    """`betr tradeoff` without a run: the compute law and the F_opt table."""

    compute_law: ComputeLaw
    table: list[ComputeRow]

    def to_json(self) -> dict[str, Any]:
        return _law_json(self.compute_law, self.table)


def _law_json(law: ComputeLaw, table: list[ComputeRow]) -> dict[str, Any]:
    """The nested records by their own `to_json` (asdict would keep the keys they leave out)."""
    return {"compute_law": law.to_json(), "table": [row.to_json() for row in table]}


def threshold_stats(index: RunIndex, keep: float, by: str = "tokens") -> ThresholdStats:
    """What keeping `keep` (fraction) of the run's pool keeps, and each target benchmark's share
    of the kept set, estimated on the scored sample (the only docs with a best benchmark)."""
    cut = index.cut(keep, by)
    kept_tokens = int(index.cum_tokens[cut - 1])
    docs, tokens, kept_sample = index.sample_counts_at(cut)
    shares = [
        BenchmarkShare(
            name, docs[name], tokens[name], docs[name] / kept_sample if kept_sample else 0.0
        )
        for name in sorted(index.benchmarks.values())
    ]
    shares.sort(key=lambda s: (-s.share, s.benchmark))
    return ThresholdStats(
        run_id=index.run_id,
        keep_percent=keep * 100.0,
        by=by,
        threshold=float(index.prob[cut - 1]),
        kept_docs=cut,
        kept_tokens=kept_tokens,
        total_docs=len(index),
        total_tokens=index.total_tokens,
        kept_doc_share=cut / len(index),
        kept_token_share=kept_tokens / index.total_tokens if index.total_tokens else 0.0,
        sample_kept_docs=kept_sample,
        sample_docs=int(index.in_sample.sum()),
        benchmark_shares=shares,
        over_targeted=[s.benchmark for s in shares if s.share > OVER_TARGET_SHARE],
    )


@overload
def tradeoff(index: RunIndex, keep: float | None, by: str, budget: Budget) -> RunTradeoff: ...
@overload
def tradeoff(index: None, keep: float | None, by: str, budget: Budget) -> BudgetTradeoff: ...
def tradeoff(
    index: RunIndex | None, keep: float | None, by: str, budget: Budget
) -> RunTradeoff | BudgetTradeoff:
    """`betr tradeoff`: the threshold numbers at `keep` (F_opt when no keep is given and the
    budget is known, else 10%), and the compute law with epochs at F_opt and at `keep`."""
    if index is None:
        if not budget.known:
            raise UsageError(
                "without --run, tradeoff needs a budget",
                fix="give --params N --tokens D, or --compute C (or --run R)",
            )
        return BudgetTradeoff(compute_law(budget), compute_table())
    if keep is None:
        f_opt = budget.f_opt()
        keep = f_opt / 100.0 if f_opt is not None else 0.10
    stats = threshold_stats(index, keep, by)
    epochs, starved = _epochs(budget.tokens, stats.kept_tokens)
    return RunTradeoff(
        **vars(stats),
        compute_law=compute_law(budget, index.total_tokens),
        epochs_at_keep=epochs,
        starvation_at_keep=starved,
        table=compute_table(index.total_tokens),
    )


def prob_histogram(index: RunIndex, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(counts, edges) of p(positive) over the whole pool, on [0, 1]."""
    return np.histogram(index.prob, bins=bins, range=(0.0, 1.0))


def keep_curve(index: RunIndex, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """Kept tokens (% of the pool) against the keep rate in % of docs, docs taken in probability
    order: above the diagonal, the classifier prefers long docs; below, short ones."""
    x = np.linspace(0.0, 100.0, points)
    n = len(index)
    counts = np.ceil(x / 100.0 * n - 1e-9).astype(np.int64)
    cum = np.concatenate([[0], index.cum_tokens])
    y = cum[counts] / max(1, index.total_tokens) * 100.0
    return x, y


# -- comparing two runs ----------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Overlap:
    """Two runs' kept sets at one keep rate: sizes, overlap, Jaccard, and the set differences
    (doc ids, each in its own run's probability order)."""

    run_a: int
    run_b: int
    keep_percent: float
    by: str  # a KEEP_BY unit
    kept_a: int
    kept_b: int
    overlap: int
    jaccard: float
    only_a: np.ndarray  # doc ids kept by run A only
    only_b: np.ndarray


def overlap(a: RunIndex, b: RunIndex, keep: float, by: str = "tokens") -> Overlap:
    """Kept sets of two runs over one corpus at one keep rate: overlap, Jaccard, and the set
    differences (doc ids, each in its own run's probability order)."""
    if a.corpus_id != b.corpus_id:
        raise UsageError(
            f"runs {a.run_id} and {b.run_id} are over different corpora "
            f"('{a.corpus}' and '{b.corpus}'): their kept sets cannot be compared",
            fix="compare two runs over the same corpus",
        )
    kept_a = a.doc_id[: a.cut(keep, by)]
    kept_b = b.doc_id[: b.cut(keep, by)]
    both = np.intersect1d(kept_a, kept_b, assume_unique=True)
    union = len(kept_a) + len(kept_b) - len(both)
    return Overlap(
        run_a=a.run_id,
        run_b=b.run_id,
        keep_percent=keep * 100.0,
        by=by,
        kept_a=len(kept_a),
        kept_b=len(kept_b),
        overlap=len(both),
        jaccard=len(both) / union if union else 1.0,
        only_a=kept_a[~np.isin(kept_a, both, assume_unique=True)],
        only_b=kept_b[~np.isin(kept_b, both, assume_unique=True)],
    )


# -- classifier vs BETR on the scored sample -------------------------------------------------
@dataclass(frozen=True)
class Disagreement(Record):
    """A sample doc the classifier and BETR rank apart: its rank in the run, p(positive), BETR
    score, both as percentile ranks over the sample, and its best benchmark."""

    doc_id: int
    rank: int  # 1-based, in the run's probability order
    prob: float
    score: float
    prob_percentile: float
    score_percentile: float
    benchmark: str | None


@dataclass(frozen=True)
class Agreement(Record):
    """Classifier vs BETR on the scored sample (see `agreement`)."""

    run_id: int
    sample_docs: int
    spearman: float
    spearman_p: float
    keep_percent: float
    by: str  # a KEEP_BY unit
    sample_kept: int
    precision_at_keep: float | None  # None: no sample doc kept
    classifier_over_betr: list[Disagreement]
    betr_over_classifier: list[Disagreement]


def agreement(index: RunIndex, keep: float = 0.10, by: str = "tokens", top: int = 50) -> Agreement:
    """On the scored sample: Spearman of p(positive) vs BETR score, precision at the keep rate
    (of the sample docs the classifier keeps, the share BETR also ranks in its top as many),
    and the largest disagreements both ways by percentile rank."""
    from scipy.stats import rankdata, spearmanr

    if not index.applied:
        index.cut(keep, by)  # raises "apply it first"
    rows = np.flatnonzero(index.in_sample)
    if len(rows) < 3:
        raise UsageError(
            f"run {index.run_id} has {len(rows)} scored docs; agreement needs at least 3",
            fix="score a larger sample (--sample)",
        )
    prob, score = index.prob[rows], index.score[rows]
    rho, p_value = spearmanr(prob, score)
    cut = index.cut(keep, by)
    kept = rows < cut
    n_kept = int(kept.sum())
    betr_top = np.zeros(len(rows), dtype=bool)
    by_score = np.lexsort((rows, -index.best_cosine[rows], -score))  # BETR order
    betr_top[by_score[:n_kept]] = True
    precision = float((kept & betr_top).sum() / n_kept) if n_kept else None
    pr_prob = rankdata(prob) / len(rows)
    pr_score = rankdata(score) / len(rows)
    diff = pr_prob - pr_score

    def listing(order: np.ndarray) -> list[Disagreement]:
        return [
            Disagreement(
                doc_id=int(index.doc_id[rows[i]]),
                rank=int(rows[i]) + 1,
                prob=float(prob[i]),
                score=float(score[i]),
                prob_percentile=float(pr_prob[i] * 100),
                score_percentile=float(pr_score[i] * 100),
                benchmark=index.benchmarks.get(int(index.bench[rows[i]])),
            )
            for i in order[:top]
        ]

    idx = np.arange(len(rows))
    return Agreement(
        run_id=index.run_id,
        sample_docs=len(rows),
        spearman=float(rho),
        spearman_p=float(p_value),
        keep_percent=keep * 100.0,
        by=by,
        sample_kept=n_kept,
        precision_at_keep=precision,
        classifier_over_betr=listing(np.lexsort((idx, -diff))),
        betr_over_classifier=listing(np.lexsort((idx, diff))),
    )
