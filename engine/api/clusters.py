"""Topic clusters of a run's scored sample, for both faces: plan (or reuse) a clustering, read
it, and what a keep rate keeps of each cluster (engine.betr.clusters says how they are made).

A clustering is cached by (run, k, seed). A face runs one with `plan_clusters`, then (unless
the plan is cached) its `spec` as a job: `engine.api.jobs.start` in the background, or
`queue` + `run_here` in the foreground; `load_clusters` reads it once done, `NotCached` (a
UsageError with the command to run) before. `kept_at` is what the Clusters panel redraws as
the keep rate moves: an O(sample) count over the run's loaded index, on the sample only.

Every number here is of the scored sample (a uniform sample of the pool): the faces say
"on the N-doc scored sample" with it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.api.browse import RunIndex, load_run_index
from engine.betr import clusters as bc
from engine.betr.runs import require_state
from engine.betr.select import check_keep_by
from engine.errors import UsageError
from engine.jobs.specs import ClustersSpec
from engine.records import Record
from engine.store import clusters as store_cl
from engine.store import runs as store_runs
from engine.workspace import Workspace

DEFAULT_KEEP = 0.10
DEFAULT_SEED = 0
TITLE_SHOWN = 4  # words of a title the faces show
K_RULE = f"round(sqrt(n / 2)) clamped to {bc.MIN_K}..{bc.MAX_DEFAULT_K}"


class NotCached(UsageError):
    """The clustering asked for has not been computed yet."""


@dataclass(frozen=True)
class ClusterPlan:
    run_id: int
    k: int
    seed: int
    sample_docs: int
    k_default: bool  # k came from `bc.default_k` (K_RULE)
    cached: bool  # computed already: nothing to run
    spec: ClustersSpec | None  # the job that computes it (None when cached)

    @property
    def title(self) -> str:
        return f"clusters of run {self.run_id}: k = {self.k} on the {self.sample_docs:,}-doc sample"


@dataclass(frozen=True)
class NearExample:
    """A target example near a cluster's centroid."""

    example_id: int
    example: str  # the example's own id
    benchmark: str
    text: str  # its question (or its text)
    cosine: float  # to the centroid


@dataclass(frozen=True)
class Cluster:
    cluster: int  # 0 = the largest
    words: tuple[str, ...]  # title words, most distinctive first (c-TF-IDF)
    docs: int  # docs of the scored sample in it
    tokens: int
    pull: dict[str, int]  # target benchmark -> its docs whose best match that benchmark is
    nearest: tuple[NearExample, ...]

    @property
    def title(self) -> str:
        return " · ".join(self.words[:TITLE_SHOWN]) or "(no distinctive words)"


@dataclass(frozen=True)
class SampleClusters:
    """One clustering of a run's scored sample."""

    run_id: int
    set_id: int
    k: int
    seed: int
    niter: int
    sample_docs: int
    dim: int
    model_id: str
    benchmarks: tuple[str, ...]  # the run's target benchmarks, by name
    clusters: tuple[Cluster, ...]
    doc_ids: np.ndarray = field(repr=False)  # (sample_docs,) int64 ascending
    labels: np.ndarray = field(repr=False)  # (sample_docs,) int32 cluster of each

    def doc_ids_of(self, cluster: int) -> np.ndarray:
        """The sample docs of one cluster, by doc id."""
        if not 0 <= cluster < self.k:
            raise UsageError(
                f"cluster {cluster} does not exist: run {self.run_id} has clusters 0..{self.k - 1} "
                f"at k = {self.k}"
            )
        ids: np.ndarray = self.doc_ids[self.labels == cluster]
        return ids


@dataclass(frozen=True)
class ClusterKept:
    cluster: int
    kept_docs: int
    kept_tokens: int
    kept_share: float  # of the cluster's tokens (or docs, by docs) kept
    lift: float | None  # kept_share / the pool's kept share (None: the pool keeps nothing)


@dataclass(frozen=True)
class ClustersAtKeep:
    """What a keep rate keeps of each cluster (rows in cluster order)."""

    clusters: SampleClusters
    keep: float
    by: str
    pool_share: float  # the whole pool's kept share at this keep rate, in `by`
    sample_share: float  # the scored sample's kept share (the clusters' together)
    rows: tuple[ClusterKept, ...]


@dataclass(frozen=True)
class ClustersReport(Record):
    """`betr clusters --json`."""

    run_id: int
    k: int
    seed: int
    niter: int
    sample_docs: int
    on: str  # "the N-doc scored sample"
    k_rule: str | None  # how the default k was chosen (None: the user's k)
    keep: float | None  # fraction (None: the run is not applied, no kept shares)
    by: str | None
    pool_share: float | None
    sample_share: float | None
    clusters: list[dict[str, Any]]


# -- planning -------------------------------------------------------------------------------
def plan_clusters(
    workspace: Workspace, run_id: int, *, k: int | None = None, seed: int = DEFAULT_SEED
) -> ClusterPlan:
    """The clustering of run `run_id`'s scored sample into k clusters (default: `default_k`
    of its size) with `seed`: cached, or the job spec that computes it. UsageError with the
    fix for a run without a scored sample or a k that does not fit it."""
    with closing(workspace.connect(readonly=True)) as conn:
        run = store_runs.get_run(conn, run_id)
        require_state(run, "scored", "trained", "applied", action="cluster its scored sample")
        if "model_id" not in run["config"]:
            raise UsageError(f"run {run_id} is not a BETR run with an embedder")
        n = sample_size(conn, run_id)
        chosen = bc.default_k(n) if k is None else k
        bc.check_k(chosen, n)
        cached = store_cl.find_set(conn, run_id, chosen, seed) is not None
    spec = ClustersSpec(run_id=run_id, k=chosen, seed=seed)  # checks the seed
    return ClusterPlan(
        run_id=run_id,
        k=chosen,
        seed=seed,
        sample_docs=n,
        k_default=k is None,
        cached=cached,
        spec=None if cached else spec,
    )


def sample_size(conn: sqlite3.Connection, run_id: int) -> int:
    from engine.store.scores import count_sample

    return int(count_sample(conn, run_id))


# -- reading --------------------------------------------------------------------------------
def load_clusters(
    workspace: Workspace, run_id: int, *, k: int | None = None, seed: int = DEFAULT_SEED
) -> SampleClusters:
    """The cached clustering of (run, k, seed) (k: the default for the sample when None);
    NotCached with the command to run when it is not computed yet."""
    with closing(workspace.connect(readonly=True)) as conn:
        return read_clusters(conn, run_id, k=k, seed=seed)


def read_clusters(
    conn: sqlite3.Connection, run_id: int, *, k: int | None = None, seed: int = DEFAULT_SEED
) -> SampleClusters:
    run = store_runs.get_run(conn, run_id)
    if k is None:
        k = bc.default_k(sample_size(conn, run_id))
    found = store_cl.find_set(conn, run_id, k, seed)
    if found is None:
        raise NotCached(
            f"run {run_id} has no clusters at k = {k}, seed {seed} yet",
            fix=f"betr clusters --run {run_id} --k {k} --seed {seed} (or c on the Clusters tab "
            "of the Threshold screen)",
        )
    arrays = store_cl.set_arrays(conn, found["id"])
    rows = store_cl.clusters_of_set(conn, found["id"])
    names = list(run["config"].get("benchmarks", {}))
    bench_names = store_cl.benchmark_names(conn, [b for r in rows for b in r["pull"]])
    examples = store_cl.examples_by_id(conn, [e for r in rows for e, _ in r["nearest"]])
    clusters = tuple(
        Cluster(
            cluster=r["cluster"],
            words=tuple(w for w, _ in r["title"]),
            docs=r["docs"],
            tokens=r["tokens"],
            pull={bench_names[b]: n for b, n in r["pull"].items() if b in bench_names},
            nearest=tuple(
                NearExample(
                    example_id=e,
                    example=examples[e]["ext_id"],
                    benchmark=examples[e]["benchmark"],
                    text=examples[e]["question"] or examples[e]["text"] or "",
                    cosine=cos,
                )
                for e, cos in r["nearest"]
                if e in examples
            ),
        )
        for r in rows
    )
    return SampleClusters(
        run_id=run_id,
        set_id=found["id"],
        k=found["k"],
        seed=found["seed"],
        niter=found["niter"],
        sample_docs=found["n_docs"],
        dim=found["dim"],
        model_id=found["model_id"],
        benchmarks=tuple(sorted(names)),
        clusters=clusters,
        doc_ids=arrays["doc_ids"],
        labels=arrays["labels"],
    )


def cached_settings(conn: sqlite3.Connection, run_id: int) -> list[tuple[int, int]]:
    """(k, seed) of every clustering of the run, newest first."""
    return [(s["k"], s["seed"]) for s in store_cl.sets_of_run(conn, run_id)]


def cluster_doc_ids(
    conn: sqlite3.Connection, run_id: int, k: int, seed: int, cluster: int
) -> np.ndarray:
    """The sample docs of one cluster (what the Documents filter keeps), by doc id."""
    ids: np.ndarray = store_cl.member_ids(conn, run_id, k, seed, cluster)
    return ids


# -- what a keep rate keeps of each -----------------------------------------------------------
def kept_at(index: RunIndex, sc: SampleClusters, keep: float, by: str) -> ClustersAtKeep:
    """Per cluster, its docs and tokens kept at `keep` (by tokens or docs) and its kept share
    vs the pool's; `index` is the run's loaded RunIndex (applied)."""
    check_keep_by(by)
    if index.run_id != sc.run_id:
        raise ValueError(f"index of run {index.run_id}, clusters of run {sc.run_id}")
    cut = index.cut(keep, by)  # raises "apply it first" before apply
    rows = sample_rows(index, sc.doc_ids)
    present = rows >= 0  # a doc deleted since the clustering has no row
    labels = sc.labels[present].astype(np.int64)
    kept = rows[present] < cut
    r = bc.kept_by_cluster(labels, kept, index.n_tokens[rows[present]], sc.k, by)
    if by == "docs":
        pool = cut / len(index) if len(index) else 0.0
    else:
        pool = float(index.cum_tokens[cut - 1]) / index.total_tokens if cut else 0.0
    out = tuple(
        ClusterKept(
            cluster=c,
            kept_docs=int(r.kept_docs[c]),
            kept_tokens=int(r.kept_tokens[c]),
            kept_share=float(r.kept_share[c]),
            lift=float(r.kept_share[c]) / pool if pool > 0 else None,
        )
        for c in range(sc.k)
    )
    return ClustersAtKeep(sc, keep, by, pool, r.sample_share, out)


def sample_rows(index: RunIndex, doc_ids: np.ndarray) -> np.ndarray:
    """Base rows of `doc_ids` in the index, in their order; -1 for a doc not in it."""
    out = np.full(len(doc_ids), -1, dtype=np.int64)
    rows = index.rows_of_docs(doc_ids)
    found = index.doc_id[rows]
    pos = np.searchsorted(doc_ids, found)  # doc_ids ascending
    out[pos] = rows
    return out


def report(
    workspace: Workspace,
    run_id: int,
    *,
    k: int | None = None,
    seed: int = DEFAULT_SEED,
    keep: float | None = None,
    by: str = "tokens",
) -> ClustersReport:
    """`betr clusters`: the cached clustering, with kept shares at `keep` (default 10%) once the
    run is applied; an explicit `keep` on a run not applied is a UsageError."""
    check_keep_by(by)
    with closing(workspace.connect(readonly=True)) as conn:
        sc = read_clusters(conn, run_id, k=k, seed=seed)
        applied = store_runs.get_run(conn, run_id)["state"] == "applied"
        if keep is not None and not applied:
            raise UsageError(
                f"run {run_id} is not applied: its docs have no keep rate yet",
                fix=f"leave out --keep, or apply it first: betr apply --run {run_id}",
            )
        index = load_run_index(conn, run_id) if applied else None
    at = None if index is None else kept_at(index, sc, DEFAULT_KEEP if keep is None else keep, by)
    rows = []
    for c in sc.clusters:
        row: dict[str, Any] = {
            "cluster": c.cluster,
            "title": list(c.words),
            "docs": c.docs,
            "tokens": c.tokens,
        }
        if at is not None:
            kept = at.rows[c.cluster]
            row.update(
                kept_docs=kept.kept_docs,
                kept_tokens=kept.kept_tokens,
                kept_share=kept.kept_share,
                lift=kept.lift,
            )
        row["pull"] = dict(sorted(c.pull.items(), key=lambda kv: (-kv[1], kv[0])))
        row["nearest"] = [
            {"benchmark": e.benchmark, "example": e.example, "cosine": e.cosine} for e in c.nearest
        ]
        rows.append(row)
    return ClustersReport(
        run_id=run_id,
        k=sc.k,
        seed=sc.seed,
        niter=sc.niter,
        sample_docs=sc.sample_docs,
        on=f"the {sc.sample_docs:,}-doc scored sample",
        k_rule=K_RULE if k is None else None,
        keep=None if at is None else at.keep,
        by=None if at is None else at.by,
        pool_share=None if at is None else at.pool_share,
        sample_share=None if at is None else at.sample_share,
        clusters=rows,
    )
