"""Duplicates, for both faces: exact clusters (the hash every doc gets at import), near-duplicate
clusters (a MinHash LSH job over the whole corpus), a selection with one doc per cluster, and
what the Documents list, the viewer and the Threshold screen show.

Exact: docs of a corpus whose text is the same after NFC, lowercasing and collapsing whitespace
(engine.betr.dedup_text). Near: docs linked by MinHash LSH over word 5-grams (engine.betr.minhash,
datatrove's defaults: 112 permutations in 14 bands of 8 rows). A face runs the near job with
`plan_near_dups`, then (unless the plan is cached) its `spec` as a job: `engine.api.jobs.start`
in the background or `queue` + `run_here` in the foreground (the CLI's `run_job`).

Keeping one doc per cluster keeps its highest p(positive) (the first in the run's probability
order); every other member the kept set holds is dropped, and the cut stays where it is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.api.select import Dedup, SelectionExport, export_selection, select
from engine.betr.dedup_text import DUP_KINDS, exact_hash
from engine.betr.minhash import SHINGLE_HASHES, MinHashParams
from engine.betr.runindex import RunIndex
from engine.errors import UsageError
from engine.jobs.specs import NearDupSpec
from engine.store import catalog, docs, scores
from engine.store import dups as store_dups
from engine.store import runs as store_runs
from engine.store.db import transaction
from engine.workspace import Workspace

HASH_CHUNK = 2000
EXACT_RULE = "same text after Unicode NFC, lowercasing and collapsing whitespace"
__all__ = [
    "DUP_KINDS",
    "EXACT_RULE",
    "SHINGLE_HASHES",
    "Dedup",
    "DocDuplicates",
    "DupCluster",
    "DupListing",
    "DupMark",
    "DupMember",
    "DupProfile",
    "DupShare",
    "MinHashParams",
    "NearDupPlan",
    "NearDupRun",
    "backfill_exact_hashes",
    "corpus_of_run",
    "doc_duplicates",
    "dup_clusters",
    "dup_marks",
    "dup_profile",
    "near_run_of",
    "plan_near_dups",
    "redundant_mask",
    "select_deduplicated",
]


@dataclass(frozen=True)
class NearDupRun:
    """A near-duplicate detection of a corpus and what it found (counts when finished)."""

    id: int
    corpus: str
    params: dict[str, Any]
    parameters: str  # the parameters in words
    docs: int | None  # docs looked at
    signed: int | None  # of them with at least one shingle
    clusters: int | None
    members: int | None
    finished: bool
    job_id: int | None
    job_state: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class NearDupPlan:
    near_run_id: int
    cached: bool  # a finished run with these parameters exists: nothing to run
    spec: NearDupSpec | None  # the job that fills the new run (None when cached)
    corpus: str
    params: MinHashParams

    @property
    def title(self) -> str:
        return f"near duplicates of {self.corpus}"


@dataclass(frozen=True)
class DupCluster:
    """One cluster: its kind (exact | near) and members (the docs' own ids, by doc id)."""

    kind: str
    members: list[str]
    doc_ids: list[int]
    tokens: int  # of all its members

    def to_json(self) -> dict[str, Any]:
        """What `betr dups --json` prints per cluster."""
        return {
            "kind": self.kind,
            "size": len(self.members),
            "members": self.members,
            "tokens": self.tokens,
        }


@dataclass(frozen=True)
class DupListing:
    corpus: str
    exact: list[DupCluster]
    near: list[DupCluster] | None  # None: near duplicates never detected in this corpus
    near_run: NearDupRun | None

    def clusters(self, kinds: Sequence[str] = DUP_KINDS) -> list[DupCluster]:
        out: list[DupCluster] = []
        if "exact" in kinds:
            out += self.exact
        if "near" in kinds and self.near is not None:
            out += self.near
        return out


@dataclass(frozen=True)
class DupMark:
    """What the Documents list shows of a doc: its exact and near clusters' sizes (0: in none)."""

    exact: int = 0
    near: int = 0

    @property
    def text(self) -> str:
        """'=3', '≈5', '=2≈5' or ''."""
        return (f"={self.exact}" if self.exact else "") + (f"≈{self.near}" if self.near else "")


@dataclass(frozen=True)
class DupMember:
    doc_id: int
    ext_id: str
    n_tokens: int
    snippet: str


@dataclass(frozen=True)
class DocDuplicates:
    """The other members of a doc's exact and near clusters (the viewer's list)."""

    exact: list[DupMember] = field(default_factory=list)
    near: list[DupMember] = field(default_factory=list)
    near_run: NearDupRun | None = None  # None: near duplicates never detected in its corpus


# -- the corpus and its hashes --------------------------------------------------------------
def _corpus(conn: sqlite3.Connection, name: str) -> sqlite3.Row:
    row = catalog.corpus_by_name(conn, name)
    if row is None or row["deleting_at"] is not None:
        raise catalog.not_found_corpus(conn, name)
    if row["state"] != "ready":
        raise UsageError(
            f"corpus '{name}' is still being imported", fix="wait for its import job to finish"
        )
    return row


def backfill_exact_hashes(
    workspace: Workspace, corpus: str, progress: Callable[[int, int], None] | None = None
) -> int:
    """The exact hash of every doc of the corpus that has none (docs written without the
    import job, or before migration 11 by a writer that skipped it), HASH_CHUNK per
    transaction: a killed backfill keeps what it committed and the next one continues.
    Returns how many were hashed."""
    with closing(workspace.connect()) as conn:
        corpus_id = int(_corpus(conn, corpus)["id"])
        total = store_dups.count_without_hash(conn, corpus_id)
        done = after = 0
        while total and (rows := store_dups.docs_without_hash(conn, corpus_id, after, HASH_CHUNK)):
            with transaction(conn):
                store_dups.insert_hashes(conn, [(r[0], corpus_id, exact_hash(r[1])) for r in rows])
            done += len(rows)
            after = rows[-1][0]
            if progress is not None:
                progress(done, total)
        return done


# -- near duplicates: planning --------------------------------------------------------------
def plan_near_dups(
    workspace: Workspace,
    corpus: str,
    params: MinHashParams | None = None,
    *,
    workers: int | None = None,
    again: bool = False,
) -> NearDupPlan:
    """The near-duplicate run of `corpus` with `params` (datatrove's defaults when None): a
    finished one (cached, unless `again`), else a new pending run and the job spec that
    fills it."""
    params = params or MinHashParams()
    NearDupSpec(near_run_id=0, corpus=corpus, workers=workers)  # checks workers
    with closing(workspace.connect()) as conn:
        row = _corpus(conn, corpus)
        found = store_dups.finished_near_run(conn, int(row["id"]), params.as_dict())
        if found is not None and not again:
            return NearDupPlan(found["id"], True, None, corpus, params)
        with transaction(conn):
            run_id = store_dups.create_near_run(conn, int(row["id"]), params.as_dict())
    spec = NearDupSpec(near_run_id=run_id, corpus=corpus, workers=workers)
    return NearDupPlan(run_id, False, spec, corpus, params)


def _near_run(d: dict[str, Any]) -> NearDupRun:
    return NearDupRun(
        id=d["id"],
        corpus=d["corpus"],
        params=d["params"],
        parameters=MinHashParams(**d["params"]).describe(),
        docs=d["n_docs"],
        signed=d["n_signed"],
        clusters=d["n_clusters"],
        members=d["n_members"],
        finished=d["finished_at"] is not None,
        job_id=d["job_id"],
        job_state=d["job_state"],
    )


def near_run_of(conn: sqlite3.Connection, corpus_id: int) -> NearDupRun | None:
    """The corpus's newest finished near-duplicate run (what every reader uses), or None."""
    found = store_dups.finished_near_run(conn, corpus_id)
    return None if found is None else _near_run(found)


def _no_near_run(corpus: str) -> UsageError:
    return UsageError(
        f"near duplicates of corpus '{corpus}' were never detected",
        fix=f"run the near-duplicate job first: betr dups --corpus {corpus} --near",
    )


# -- listing --------------------------------------------------------------------------------
def dup_clusters(workspace: Workspace, corpus: str) -> DupListing:
    """Every exact cluster of the corpus and, once detected, every near cluster (each by its
    smallest doc id; members by doc id)."""
    with closing(workspace.connect(readonly=True)) as conn:
        row = _corpus(conn, corpus)
        corpus_id = int(row["id"])
        ids, hashes = store_dups.exact_groups(conn, corpus_id)
        exact = _clusters(conn, "exact", ids, hashes)
        run = near_run_of(conn, corpus_id)
        near = None
        if run is not None:
            near_ids, labels = store_dups.near_members(conn, run.id)
            near = _clusters(conn, "near", near_ids, labels)
    return DupListing(corpus, exact, near, run)


def _clusters(
    conn: sqlite3.Connection, kind: str, ids: np.ndarray, keys: np.ndarray
) -> list[DupCluster]:
    """Clusters from (doc id, key) rows sorted by key then doc id; ordered by first doc id."""
    if len(ids) == 0:
        return []
    found = docs.docs_by_ids(conn, ids.tolist(), ("ext_id", "n_tokens"))
    bounds = np.flatnonzero(np.diff(keys)) + 1
    out = []
    for group in np.split(ids, bounds):
        members = [int(i) for i in group if int(i) in found]
        if len(members) < 2:
            continue
        out.append(
            DupCluster(
                kind,
                [found[i]["ext_id"] for i in members],
                members,
                sum(found[i]["n_tokens"] for i in members),
            )
        )
    return sorted(out, key=lambda c: c.doc_ids[0])


# -- one per cluster ------------------------------------------------------------------------
def cluster_keys(
    conn: sqlite3.Connection, corpus_id: int, corpus: str, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """(doc ids, cluster keys) of the corpus's docs in a `kind` cluster; UsageError with the
    command to run when near duplicates were never detected."""
    if kind not in DUP_KINDS:
        raise UsageError(f"--dedup must be exact or near, got '{kind}'")
    if kind == "exact":
        return store_dups.exact_groups(conn, corpus_id)
    run = near_run_of(conn, corpus_id)
    if run is None:
        raise _no_near_run(corpus)
    return store_dups.near_members(conn, run.id)


def redundant_in_order(order_ids: np.ndarray, ids: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """(n,) bool over a probability order (doc ids, best first): True for a doc in a cluster
    that is not its cluster's first (highest p) doc, i.e. what keeping one per cluster drops."""
    out = np.zeros(len(order_ids), dtype=bool)
    if len(ids) == 0:
        return out
    sorter = np.argsort(order_ids, kind="stable")
    at = np.searchsorted(order_ids, ids, sorter=sorter)
    at = np.minimum(at, len(order_ids) - 1)
    found = order_ids[sorter[at]] == ids
    pos, key = sorter[at][found], keys[found]
    by = np.lexsort((pos, key))
    pos, key = pos[by], key[by]
    first = np.concatenate(([True], key[1:] != key[:-1]))
    out[pos[~first]] = True
    return out


def redundant_mask(conn: sqlite3.Connection, index: RunIndex, kind: str) -> np.ndarray | None:
    """(n,) bool over the run index's rows (applied runs: probability order): what keeping one
    doc per `kind` cluster drops; None when near duplicates were never detected."""
    if kind == "near" and near_run_of(conn, index.corpus_id) is None:
        return None
    ids, keys = cluster_keys(conn, index.corpus_id, index.corpus, kind)
    return redundant_in_order(index.doc_id, ids, keys)


def select_deduplicated(
    workspace: Workspace,
    run_id: int,
    keep: float,
    by: str,
    out: Path,
    kind: str,
    *,
    replay: float = 0.0,
    seed: int = 0,
) -> SelectionExport:
    """`betr select --dedup KIND`: the cut at `keep`, exported with one doc per `kind` cluster
    (its highest p); the other members it holds are dropped (the cut stays where it is, and the
    replay docs come from the non-kept docs that are first of their cluster or in none)."""
    with closing(workspace.connect(readonly=True)) as conn:
        sel = select(conn, run_id, keep, by)
        corpus_id = int(store_runs.get_run(conn, run_id)["corpus_id"])
        ids, keys = cluster_keys(conn, corpus_id, _corpus_name(conn, corpus_id), kind)
        cols = scores.read_packed(conn, run_id) or scores.build_run_columns(conn, run_id)
        order_ids = np.asarray(cols["doc_id"], dtype=np.int64)  # probability order
        redundant = np.flatnonzero(redundant_in_order(order_ids, ids, keys)) + 1
        result = export_selection(conn, sel, out, replay=replay, seed=seed, drop=redundant.tolist())
        run = near_run_of(conn, corpus_id) if kind == "near" else None
    rule = EXACT_RULE if run is None else f"MinHash LSH, {run.parameters}"
    return replace(result, dedup=Dedup(kind, rule, None if run is None else run.id))


@dataclass(frozen=True)
class DupShare:
    """The duplicates a kept set holds of one kind: docs and tokens that keeping one per
    cluster would drop, and their shares of the kept docs and tokens."""

    kind: str
    docs: int
    tokens: int
    doc_share: float
    token_share: float


@dataclass(frozen=True)
class DupProfile:
    """Per kind, the cumulative count and tokens of redundant docs along a run's probability
    order, so the kept set's duplicate share at any cut is O(1) (the Threshold screen).
    `near` is None when near duplicates were never detected in the corpus."""

    run_id: int
    corpus: str
    cum_tokens: np.ndarray  # (n,) tokens of rows 0..i
    exact: tuple[np.ndarray, np.ndarray]  # (cumulative redundant docs, tokens), (n,) each
    near: tuple[np.ndarray, np.ndarray] | None
    near_parameters: str | None
    unhashed: int  # docs of the corpus without an exact hash (not counted as duplicates)

    def share(self, cut: int, kind: str) -> DupShare | None:
        """At `cut` kept rows (1..n); None for near when it was never detected."""
        cums = self.exact if kind == "exact" else self.near
        if cums is None or cut <= 0:
            return None
        i = min(cut, len(self.cum_tokens)) - 1
        docs, tokens = int(cums[0][i]), int(cums[1][i])
        kept_tokens = int(self.cum_tokens[i])
        return DupShare(
            kind, docs, tokens, docs / (i + 1), tokens / kept_tokens if kept_tokens else 0.0
        )


def dup_profile(conn: sqlite3.Connection, index: RunIndex) -> DupProfile:
    """The run index's DupProfile (an applied run: rows in probability order)."""

    def cumulative(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.cumsum(mask, dtype=np.int64), np.cumsum(np.where(mask, index.n_tokens, 0))

    exact = redundant_mask(conn, index, "exact")
    assert exact is not None  # exact hashes are always there
    near = redundant_mask(conn, index, "near")
    run = near_run_of(conn, index.corpus_id)
    return DupProfile(
        index.run_id,
        index.corpus,
        np.cumsum(index.n_tokens),
        cumulative(exact),
        None if near is None else cumulative(near),
        None if run is None else run.parameters,
        store_dups.count_without_hash(conn, index.corpus_id),
    )


# -- the Documents list and the viewer ------------------------------------------------------
def dup_marks(conn: sqlite3.Connection, corpus_id: int, doc_ids: Sequence[int]) -> list[DupMark]:
    """Per doc: the sizes of its exact and (newest run's) near clusters."""
    hashes = store_dups.exact_hashes_of(conn, doc_ids)
    sizes = store_dups.exact_sizes(conn, corpus_id, hashes.values())
    run = store_dups.finished_near_run(conn, corpus_id)
    near: dict[int, int] = {}
    near_sizes: dict[int, int] = {}
    if run is not None:
        near = store_dups.near_clusters_of(conn, run["id"], doc_ids)
        near_sizes = store_dups.near_cluster_sizes(conn, run["id"], near.values())
    out = []
    for d in doc_ids:
        exact = sizes.get(hashes[d], 0) if d in hashes else 0
        out.append(
            DupMark(
                exact=exact if exact > 1 else 0,
                near=near_sizes.get(near[d], 0) if d in near else 0,
            )
        )
    return out


def doc_duplicates(conn: sqlite3.Connection, doc_id: int, *, snippet: int = 160) -> DocDuplicates:
    """The other members of the doc's exact and near clusters, by doc id."""
    found = docs.docs_by_ids(conn, [doc_id], ("corpus_id",))
    if doc_id not in found:
        return DocDuplicates()
    corpus_id = int(found[doc_id]["corpus_id"])
    hashes = store_dups.exact_hashes_of(conn, [doc_id])
    exact_ids: list[int] = []
    if doc_id in hashes:
        exact_ids = store_dups.exact_members(conn, corpus_id, hashes[doc_id])
    run = near_run_of(conn, corpus_id)
    near_ids: list[int] = []
    if run is not None:
        cluster = store_dups.near_clusters_of(conn, run.id, [doc_id]).get(doc_id)
        if cluster is not None:
            near_ids = store_dups.near_cluster_members(conn, run.id, cluster)
    others = sorted({*exact_ids, *near_ids} - {doc_id})
    rows = docs.docs_by_ids(conn, others, ("ext_id", "n_tokens"), snippet=snippet * 2)

    def member(i: int) -> DupMember:
        r = rows[i]
        return DupMember(i, r["ext_id"], r["n_tokens"], " ".join(r["snippet"].split())[:snippet])

    return DocDuplicates(
        exact=[member(i) for i in exact_ids if i != doc_id and i in rows],
        near=[member(i) for i in near_ids if i != doc_id and i in rows],
        near_run=run,
    )


def corpus_of_run(workspace: Workspace, run_id: int) -> str:
    """The name of the run's corpus."""
    with closing(workspace.connect(readonly=True)) as conn:
        return _corpus_name(conn, int(store_runs.get_run(conn, run_id)["corpus_id"]))


def _corpus_name(conn: sqlite3.Connection, corpus_id: int) -> str:
    row = catalog.corpus_by_id(conn, corpus_id)
    if row is None:
        raise UsageError(f"corpus {corpus_id} no longer exists")
    return str(row["name"])


def near_runs(workspace: Workspace, corpus: str) -> list[NearDupRun]:
    """Every near-duplicate run of the corpus, newest first, finished or not."""
    with closing(workspace.connect(readonly=True)) as conn:
        row = _corpus(conn, corpus)
        return [_near_run(d) for d in store_dups.near_runs_of_corpus(conn, int(row["id"]))]
