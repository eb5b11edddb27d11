"""What the rBridge screen reads in one go: the benchmarks with traces, the proxies, and per
proxy its latest score on one benchmark (a proxy curve is the checkpoints of one dataset and
size ordered by training tokens, each with its numbers).

Read-only; no job internals. Scores are those `engine.api.rbridge` writes (`rbridge_scores`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from engine.api.rbridge import score_state
from engine.store import catalog, proxies, traces
from engine.store import rbridge as store_rb
from engine.workspace import Workspace

# bpb: the rBridge release's masked-span number (mask traces only); bpb_prompted: betr's own
METRICS = ("rbridge", "nll_rphi", "nll_gold", "bpb", "bpb_prompted")
BUSY = ("pending", "queued", "running")  # score states (score_state) of a score in the making


@dataclass(frozen=True)
class ScoredPair:
    """A (benchmark, proxy) pair with a finished score."""

    benchmark: str
    proxy: str


@dataclass(frozen=True)
class RbridgeOverview:
    """`benchmarks`: per benchmark with traces (benchmark, traces, with_probs, formats);
    `proxies`: every proxy (dataset, params, tokens order); `corpora`: the ready corpus names;
    `scored`: the pairs with a finished score, newest first (what the screen opens on: an
    unscored proxy shows no traces)."""

    benchmarks: list[dict[str, Any]]
    proxies: list[dict[str, Any]]
    corpora: list[str]
    scored: list[ScoredPair]


def overview(workspace: Workspace) -> RbridgeOverview:
    """What the rBridge screen opens on (RbridgeOverview)."""
    with closing(workspace.connect(readonly=True)) as conn:
        done = [s for s in store_rb.list_scores(conn) if s["state"] == "done"]
        done.sort(key=lambda s: (s["finished_at"] or 0, s["id"]), reverse=True)
        scored = list(dict.fromkeys((s["benchmark"], s["proxy"]) for s in done))
        return RbridgeOverview(
            benchmarks=traces.trace_counts(conn),
            proxies=proxies.list_proxies(conn),
            corpora=[c["name"] for c in catalog.list_corpora(conn) if c["state"] == "ready"],
            scored=[ScoredPair(b, p) for b, p in scored],
        )


@dataclass(frozen=True)
class ProxyScore:
    """One proxy (curve order: dataset, params, tokens) and its newest finished score on a
    benchmark (None values when it has none): the METRICS, n_traces, n_scored and flags
    {flag: n traces}; `pending`: ids of scores being computed (queued, running, or not taken
    by a job yet); `stopped`: the state of its newest score whose job failed, was cancelled
    or interrupted, else None."""

    proxy_id: int
    proxy: str
    dataset: str | None
    params: int | None
    step: int | None
    tokens: int | None
    score_id: int | None
    minmax: str | None
    rbridge: float | None
    nll_rphi: float | None
    nll_gold: float | None
    bpb: float | None
    bpb_prompted: float | None
    n_traces: int | None
    n_scored: int | None
    flags: dict[str, int]
    pending: list[int]
    stopped: str | None

    def metric(self, name: str) -> float | None:
        """The value of one of METRICS by its name."""
        if name not in METRICS:
            raise KeyError(name)
        value: float | None = getattr(self, name)
        return value


def proxy_scores(workspace: Workspace, benchmark: str) -> list[ProxyScore]:
    """One ProxyScore per proxy, in curve order (dataset, params, tokens)."""
    with closing(workspace.connect(readonly=True)) as conn:
        bench = catalog.benchmark_by_name(conn, benchmark)
        scores = [] if bench is None else store_rb.list_scores(conn, benchmark_id=bench["id"])
        states = {s["id"]: score_state(conn, s)[0] for s in scores}
        rows = []
        for p in proxies.list_proxies(conn):
            mine = [s for s in scores if s["proxy_id"] == p["id"]]
            done = [s for s in mine if s["state"] == "done"]
            best = max(done, key=lambda s: (s["finished_at"] or 0, s["id"])) if done else None
            metrics = best["metrics"] if best else {}
            rows.append(
                ProxyScore(
                    proxy_id=p["id"],
                    proxy=p["name"],
                    dataset=p["dataset"],
                    params=p["params"],
                    step=p["step"],
                    tokens=p["tokens"],
                    score_id=best["id"] if best else None,
                    minmax=best["config"].get("minmax") if best else None,
                    **{k: metrics.get(k) for k in METRICS},
                    n_traces=metrics.get("n_traces"),
                    n_scored=metrics.get("n_scored"),
                    flags=dict(metrics.get("flags") or {}),
                    pending=[s["id"] for s in mine if states[s["id"]].endswith(BUSY)],
                    stopped=next(
                        (
                            states[s["id"]]
                            for s in reversed(mine)
                            if s["state"] != "done" and not states[s["id"]].endswith(BUSY)
                        ),
                        None,
                    ),
                )
            )
    return rows


@dataclass(frozen=True)
class Curve:
    """One line of a proxy plot: the scored checkpoints of one (dataset, size) by training
    tokens, with one metric's values."""

    dataset: str | None
    params: int | None
    tokens: list[float]
    values: list[float]


def curves(rows: Sequence[ProxyScore], metric: str) -> list[Curve]:
    """Per (dataset, params), from `proxy_scores` rows: the checkpoints with a token count, a
    score and a finite `metric`, by tokens. Two sizes of one dataset are two curves (joined
    into one line they zig-zag between sizes); order: dataset, then size."""
    # per (dataset, params): (tokens, step, proxy_id, value) of each point
    groups: dict[tuple[str | None, int | None], list[tuple[float, int, int, float]]] = {}
    for r in rows:
        value = r.metric(metric)
        if r.tokens is None or r.score_id is None or value is None:
            continue
        if math.isfinite(float(value)):
            point = (float(r.tokens), r.step or 0, r.proxy_id, float(value))
            groups.setdefault((r.dataset, r.params), []).append(point)
    out = []
    for (dataset, params), points in sorted(
        groups.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or 0)
    ):
        points.sort(key=lambda p: p[:3])
        out.append(Curve(dataset, params, [p[0] for p in points], [p[3] for p in points]))
    return out
