"""The selection every screen shares: the current corpus and run, the keep rate, run indexes.

The App creates one `Session`; screens and widgets watch its reactive attributes
(`self.watch(self.app.session, "run_id", ...)`) and never keep their own copy. What changes it:
the jobs poll hands it the corpora and runs (`polled`), the Workspace screen picks a corpus or
a run (`choose_corpus`, `choose_run`), the Threshold screen sets `keep` and `keep_by`. Until
the user picks, the current corpus is the newest ready one with a browsable run (else the newest
ready one) and the current run the newest browsable run of it. The runs' RunIndex cache lives here too (thread-safe, shared by every
screen), and the current run's index is warmed in the background as soon as it changes.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import TYPE_CHECKING, Protocol, cast

from textual import work
from textual.dom import DOMNode
from textual.reactive import var

from engine.api.catalog import CorpusInfo, PolledRun
from engine.errors import BetrError
from engine.workspace import Workspace
from tui.reads import reading
from tui.workers import HasApp, WorkersReportToApp

if TYPE_CHECKING:
    from engine.api.browse import DocRow, IndexCache, Query, RunIndex


BROWSABLE = ("applied", "scored", "trained")  # run states the Documents screen can list
# a run's (id, state, finished_at): what changes when it is scored, trained, applied
RunState = tuple[int, str, float | None]


class Session(WorkersReportToApp, DOMNode):
    corpus: var[str | None] = var(None)
    run_id: var[int | None] = var(None)  # the current run: what Documents/Threshold show
    run_state: var[RunState | None] = var(None)
    keep: var[float] = var(0.10)  # the keep rate (fraction) every screen uses
    keep_by: var[str] = var("tokens")  # "tokens" or "docs"
    bench_ids: var[dict[str, int]] = var(dict)  # benchmark name -> id (its colour, everywhere)
    selection: var[str] = var("corpus: - · run: -")  # what the header shows

    def __init__(self, workspace: Workspace, *, warm_up: bool = True, warm_rows: int = 200):
        super().__init__()
        self.workspace = workspace
        self.warm_up = warm_up  # False: no background index loads (first-paint timing)
        self.warm_rows = warm_rows  # rows of the Documents list read ahead by the warm-up
        self.corpus_chosen = False  # the user picked one: stop following the newest corpus
        self.run_chosen = False  # likewise for the current run
        self.runs: dict[int, PolledRun] = {}  # id -> its id, name, state, corpus, finished_at
        self.index_cache: IndexCache | None = None  # numpy loads with the first run
        # (index, query, rows) read by warm_index
        self._first_rows: tuple[RunIndex, Query, list[DocRow]] | None = None
        self._index_lock = threading.Lock()

    # -- what the jobs poll read ---------------------------------------------------------------
    def polled(
        self,
        corpora: list[CorpusInfo],
        runs: list[PolledRun] | None,
        bench_ids: dict[str, int] | None,
    ) -> None:
        if runs is not None:
            self.runs = {r.id: r for r in runs}
        self.follow_newest_corpus(corpora)
        if bench_ids is not None and bench_ids != self.bench_ids:
            self.bench_ids = bench_ids  # a new dict: lists redraw their colours
        if runs is not None:
            self.follow_newest_run()
            self.selection = self.selection_text()
            self.update_run_state()

    def follow_newest_corpus(self, corpora: list[CorpusInfo]) -> None:
        """Until the user picks one: the newest ready corpus with a browsable run, else the
        newest ready corpus (a corpus just imported does not hide the runs of another: the
        Documents and Threshold screens would have nothing to show)."""
        ready = [c for c in corpora if c.state == "ready"]
        names = {c.name for c in ready}
        if self.corpus_chosen and self.corpus in names:
            return
        browsable = {r.corpus for r in self.runs.values() if r.state in BROWSABLE}
        with_run = [c for c in ready if c.name in browsable]
        pool = with_run or ready
        newest = max(pool, key=lambda c: (c.created_at, c.id)).name if pool else None
        if newest != self.corpus:
            self.corpus = newest

    def follow_newest_run(self) -> None:
        """Until the user picks one, the current run is the newest browsable run of the current
        corpus (applied first, else scored)."""
        if self.run_chosen and self.run_id in self.runs:
            return
        mine = [r for r in self.runs.values() if r.corpus == self.corpus or self.corpus is None]
        applied = [r.id for r in mine if r.state == "applied"]
        scored = [r.id for r in mine if r.state in BROWSABLE and r.state != "applied"]
        candidates: list[int | None] = [*(applied or scored)] or [None]
        newest = max(candidates, key=lambda x: -1 if x is None else x)
        if newest != self.run_id:
            self.run_id = newest

    # -- what the user picks -------------------------------------------------------------------
    def choose_corpus(self, name: str) -> None:
        self.corpus_chosen = True
        self.corpus = name

    def choose_run(self, run_id: int) -> None:
        run = self.runs.get(run_id)
        if run is not None and run.corpus and run.corpus != self.corpus:
            self.choose_corpus(run.corpus)
        self.run_chosen = True
        self.run_id = run_id

    def watch_corpus(self) -> None:
        if self.runs:
            self.follow_newest_run()
        self.selection = self.selection_text()

    def watch_run_id(self) -> None:
        self.selection = self.selection_text()
        self.update_run_state()

    def update_run_state(self) -> None:
        run = self.runs.get(self.run_id) if self.run_id is not None else None
        state = None if run is None else (run.id, run.state, run.finished_at)
        if state != self.run_state:
            self.run_state = state

    def no_run_hint(self) -> str | None:
        """No current run, but another corpus has one that can be read: which, and how to make
        it current (None when there is none)."""
        readable = [r for r in self.runs.values() if r.state in BROWSABLE]
        if not readable:
            return None
        other = max(readable, key=lambda r: r.id)
        where = (
            f"corpus '{self.corpus}' has no scored run yet" if self.corpus else "no run is current"
        )
        return (
            f"{where}: score it (betr score), or press 1, then r on run {other.id} "
            f"({other.name or 'unnamed'}, corpus '{other.corpus}') to read its documents here"
        )

    def selection_text(self) -> str:
        run = self.runs.get(self.run_id) if self.run_id is not None else None
        if run is None:
            shown = "-"
        else:
            state = "" if run.state == "applied" else f", {run.state}"
            shown = f"{run.id} ({run.name or ''}{state})"
        return f"corpus: {self.corpus or '-'} · run: {shown}"

    # -- run indexes ---------------------------------------------------------------------------
    def load_index(self, conn: sqlite3.Connection, run_id: int) -> RunIndex:
        """The run's RunIndex (cached across screens); call from a thread worker."""
        with self._index_lock:
            if self.index_cache is None:
                from engine.api.browse import IndexCache

                self.index_cache = IndexCache()
            return self.index_cache.get(conn, run_id)

    def cached_index(self, run_id: int) -> RunIndex | None:
        """The run's RunIndex if it is loaded already (UI thread; no database read)."""
        run = self.runs.get(run_id)
        if run is None or self.index_cache is None:
            return None
        with self._index_lock:
            return self.index_cache.peek(run_id, run.state, run.finished_at)

    def watch_run_state(self, state: RunState | None) -> None:
        if state is not None and state[1] != "pending" and self.warm_up:
            self.warm_index(state[0])

    @work(thread=True, exclusive=True, exit_on_error=False, group="session-index")
    def warm_index(self, run_id: int) -> None:
        """Load the current run's columns in the background, so the Documents and Threshold
        screens open on a warm index (their own loads report any error)."""
        try:
            with reading(self.workspace) as conn:
                index = self.load_index(conn, run_id)
        except (BetrError, sqlite3.Error):
            return
        from engine.api.browse import SORTS, Query, make_view, page
        from engine.api.columns import shown_columns

        try:  # the Documents list's first rows, so it opens with them on screen
            query = Query(keep=self.keep, by=self.keep_by)
            with reading(self.workspace) as conn:
                view = make_view(conn, index, query)
                columns = shown_columns(conn, index.corpus_id)
                rows = page(conn, index, view, 0, self.warm_rows, columns)
            self._first_rows = (index, query, rows)
        except (BetrError, sqlite3.Error):
            pass
        for sort in SORTS:  # each sort's argsort once, ahead of the first key press
            index.order(sort)

    def first_rows(self, index: RunIndex, query: Query) -> list[DocRow] | None:
        """The warm-up's first rows of this run's `query` view, once (later views fetch)."""
        cached, self._first_rows = self._first_rows, None
        if cached is not None and cached[0] is index and cached[1] == query:
            return cached[2]
        return None


class _HoldsSession(Protocol):
    """What `UsesSession` reads of the App (`tui.app_protocol.AppServices` has it; importing
    that here would close an import circle: it names `Session`)."""

    session: Session


class UsesSession:
    """Mix into a widget: `self.session` is the App's Session."""

    @property
    def session(self: HasApp) -> Session:
        return cast(_HoldsSession, self.app).session
