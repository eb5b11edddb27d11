"""Which two sides of the results table a fit or a ranking should start from, chosen from their
checkpoint keys (pure: tuples in, a dataclass out).

A fit puts a smaller model's metric (x) against a larger model's (y), matched on tokens or
step, and needs MIN_POINTS matched points. The default pair is:

1. a fit pair: x smaller than y (by parameters, else by the size label), sharing at least
   MIN_POINTS tokens (else step) values; the same run at two sizes first (one dataset, the
   demo experiment's and DataDecide's shape), then two runs of one family (their names equal
   once the size is taken out: `pythia-410m` and `pythia-1.4b`), then the largest y with the
   next size below it as x (the one most likely trained at the same token counts);
2. else a ranking pair: the two sizes that the most runs were evaluated at (DCLM: one
   checkpoint per run and size, so nothing to fit, but 1.4B ranks the datasets of 6.9B),
   with a note saying why there is no fit and what to pick;
3. else one side and a note (a single size: nothing to predict).

Never x = y: a series fitted on itself is R^2 = 1 by construction, which reads as a result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.errors import UsageError
from engine.names import normalise

MIN_POINTS = 3  # a fit's minimum of matched points (engine.analysis.fits)


@dataclass(frozen=True)
class MatchKey:
    """How a fit pairs a small model's checkpoints with a large one's: rows with equal values
    in `column` of the results table are one point."""

    column: str
    summary: str


# the registry of match keys (engine.api.analysis_fit re-exports it); the first is the default
MATCH_KEYS: dict[str, MatchKey] = {
    "tokens": MatchKey("tokens", "training tokens seen"),
    "step": MatchKey("step", "the checkpoint's training step"),
}


def match_key(name: str) -> MatchKey:
    """The registered match key `name` (a UsageError naming the known ones otherwise)."""
    try:
        return MATCH_KEYS[name]
    except KeyError:
        raise UsageError(
            f"unknown match key '{name}'", fix=f"match on {' or '.join(MATCH_KEYS)}"
        ) from None


_SIZE_IN_NAME = re.compile(r"(?<![a-z0-9.])\d+(?:\.\d+)?[kmbt](?![a-z0-9])")


@dataclass(frozen=True)
class SideKey:
    run: str
    size: str | None
    params: int | None


@dataclass
class DefaultPair:
    x: SideKey
    y: SideKey
    match: str = "tokens"
    n_points: int = 0  # matched points of the fit pair (0: not a fit pair)
    n_datasets: int = 0  # runs evaluated at both sizes (a ranking pair)
    note: str | None = None  # why there is no fit by default, and what to pick

    @property
    def fits(self) -> bool:
        return self.note is None


def family(run: str, size: str | None) -> str:
    """A run's name without its size: `pythia-1.4b-deduped` (1.4B) -> `pythia_deduped`."""
    name = run.lower()
    if size:
        name = name.replace(size.lower(), " ")
    return normalise(_SIZE_IN_NAME.sub(" ", name))


def _value(side: SideKey) -> float:
    """Its parameters, else the value of its size label ("1.4B" -> 1.4e9), else -1."""
    if side.params is not None:
        return float(side.params)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmbt]?)\s*", (side.size or "").lower())
    if not m:
        return -1.0
    return float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}[m.group(2)]


def _smaller(a: SideKey, b: SideKey) -> bool:
    return 0 <= _value(a) < _value(b)


def choose(
    y_rows: Iterable[Sequence],
    x_rows: Iterable[Sequence] | None = None,
    *,
    prefer_runs: Sequence[str] = (),
) -> DefaultPair | None:
    """The default (x, y) sides from checkpoint rows (run, size, params, stage, tokens, step):
    `y_rows` of the target metric, `x_rows` of the proxy metric (default: the same rows).
    `prefer_runs` (the demo experiment's datasets, best first) go before other runs."""
    y_keys = _keys(y_rows)
    x_keys = y_keys if x_rows is None else _keys(x_rows)
    if not y_keys:
        return None
    rank = {r: i for i, r in enumerate(prefer_runs)}
    best, best_key = None, None
    for y, (y_tok, y_step) in y_keys.items():
        if max(len(y_tok), len(y_step)) < MIN_POINTS:
            continue
        for x, (x_tok, x_step) in x_keys.items():
            if x == y or not _smaller(x, y):
                continue
            n_tok, n_step = len(x_tok & y_tok), len(x_step & y_step)
            if max(n_tok, n_step) < MIN_POINTS:
                continue
            key = (
                x.run != y.run,
                family(x.run, x.size) != family(y.run, y.size),
                rank.get(y.run, len(rank)),
                -_value(y),
                -_value(x),
                -max(n_tok, n_step),
                y.run,
                x.run,
            )
            if best_key is None or key < best_key:
                match = "tokens" if n_tok >= MIN_POINTS else "step"
                best, best_key = DefaultPair(x, y, match, max(n_tok, n_step)), key
    if best is not None:
        return best
    return _ranking_pair(y_keys, rank)


def _keys(rows: Iterable[Sequence]) -> dict[SideKey, tuple[set, set]]:
    rows = list(rows)
    out: dict[SideKey, tuple[set, set]] = {}
    params: dict[tuple[str, str | None], int | None] = {}
    for run, size, p, *_keys in rows:
        if p is not None and params.get((run, size)) is None:
            params[(run, size)] = p
    for run, size, _p, _stage, tokens, step in rows:
        tok, st = out.setdefault(SideKey(run, size, params.get((run, size))), (set(), set()))
        if tokens is not None:
            tok.add(tokens)
        if step is not None:
            st.add(step)
    return out


def _ranking_pair(keys: dict[SideKey, tuple[set, set]], rank: dict[str, int]) -> DefaultPair:
    """No fit pair: the two sizes that most runs were evaluated at (a ranking needs the same
    datasets at both), or the largest side alone; with a note saying why and what to pick."""
    short = sum(max(len(t), len(s)) < MIN_POINTS for t, s in keys.values())
    why = (
        f"every run has fewer than {MIN_POINTS} checkpoints per size"
        if short == len(keys)
        else f"no smaller side shares {MIN_POINTS} tokens or step values with a larger one "
        f"({short} of the {len(keys)} (run, size) pairs have fewer than {MIN_POINTS} checkpoints)"
    )
    by_run: dict[str, list[SideKey]] = {}
    for side in keys:
        by_run.setdefault(side.run, []).append(side)
    pairs: dict[tuple[str | None, str | None], list[tuple[SideKey, SideKey]]] = {}
    for sides in by_run.values():
        for x in sides:
            for y in sides:
                if _smaller(x, y):
                    pairs.setdefault((x.size, y.size), []).append((x, y))
    if pairs:
        shared = min(
            pairs.values(),
            key=lambda ps: (-len(ps), -_value(ps[0][1]), -_value(ps[0][0]), ps[0][0].size or ""),
        )
        x, y = min(shared, key=lambda p: (rank.get(p[0].run, len(rank)), p[0].run))
        note = (
            f"Nothing to fit by default: {why}, and a fit needs {MIN_POINTS} matched (x, y) "
            "checkpoints. Pick an x and a y run above that share checkpoints, or press t for "
            f"Ranking: {x.size} ranks the datasets of {y.size} ({len(shared)} evaluated at both)."
        )
        return DefaultPair(x, y, n_datasets=len(shared), note=note)
    y = max(keys, key=lambda s: (_value(s), s.run))
    note = (
        f"Nothing to fit by default: {why}, and no run was evaluated at two sizes. A fit needs "
        f"a smaller model (x) and a larger one (y) with {MIN_POINTS} matched checkpoints: "
        "import results of another size, or pick x and y above."
    )
    return DefaultPair(y, y, note=note)
