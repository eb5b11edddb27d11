"""The Clusters tab: the topic clusters of the run's scored sample and what the keep rate keeps
of each, as a table and a bar chart (each cluster's kept share, the whole pool's as the line).

The clustering (engine.api.clusters) is read once per (run, k, seed) and kept here; after that
a keep rate is an O(sample) count (`kept_at`), read in a thread worker when the keep rests, like
the other tabs (tui/screens/threshold/tab.py). When the clustering is not cached yet, opening
the tab starts its job (a background worker process) and says how far it is; the table
appears when it is done. `n` types another k (empty: the default for the sample's size);
enter on a cluster opens the Documents screen filtered to its docs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Input, Label, Static

from engine.api.clusters import (
    K_RULE,
    ClusterPlan,
    ClustersAtKeep,
    NotCached,
    SampleClusters,
    kept_at,
    load_clusters,
    plan_clusters,
)
from engine.api.jobs import start
from engine.errors import BetrError
from engine.units import abbreviate, format_percent
from tui.action_model import bindings
from tui.reads import reading
from tui.safe_text import one_line
from tui.screens.threshold.actions import ACTIONS, CLUSTERS
from tui.screens.threshold.format import fmt_keep, no_run_text
from tui.screens.threshold.tab import ThresholdTab
from tui.widgets.bars import Bar, BarChart
from tui.widgets.cards import update_static
from tui.widgets.form_input import FormInput
from tui.widgets.tables import KeyedTable

if TYPE_CHECKING:
    from engine.api.jobs import JobInfo

# (run id, k or None for the default, seed, keep rate, "tokens" or "docs")
ClusterKey = tuple[int, int | None, int, float, str]
TITLE_CELLS = 30
COLUMNS: list[tuple[str, str, int | None]] = [
    ("cluster", "#", None),
    ("title", "most distinctive words", TITLE_CELLS),
    ("docs", "docs", None),
    ("tokens", "tokens", None),
    ("kept", "kept", None),
    ("lift", "vs pool", None),
    ("pull", "best match of", None),
]
OVER, UNDER = "▲", "▼"  # kept more / less than the pool as a whole


@dataclass(frozen=True)
class NotYet:
    """The clustering asked for is not computed: `plan` says what its job computes."""

    plan: ClusterPlan


@dataclass
class ClusterJobStarted(Message):
    """The clustering job `job_id` of `plan` started (None: not started, `note` says why)."""

    plan: ClusterPlan
    job_id: int | None
    note: str


def pct(x: float | None) -> str:
    return format_percent(x)


def title_text(words: tuple[str, ...], cells: int = TITLE_CELLS) -> str:
    """A cluster's title words in `cells`: as many whole words as fit."""
    shown = ""
    for word in words:
        nxt = f"{shown} {one_line(word)}".strip()
        if len(nxt) > cells:
            break
        shown = nxt
    return shown or ("(no distinctive words)" if not words else one_line(words[0])[:cells])


def top_pull(pull: dict[str, int]) -> str:
    """The benchmark most of a cluster's docs best match, with its count ("gsm8k 41")."""
    if not pull:
        return "-"
    name, n = min(pull.items(), key=lambda kv: (-kv[1], kv[0]))
    return f"{one_line(name)} {n:,}"


ClusterAnswer = ClustersAtKeep | NotYet


class ClustersTab(ThresholdTab[ClusterKey | None, ClusterAnswer]):
    TITLE = "Clusters"
    NAME = "clusters"
    WIDGET_ID = "cl-tab"
    LOADING = "reading the topic clusters of the scored sample…"
    EMPTY = "#cl-empty"
    CONTENT: ClassVar = ("#cl-main", "#cl-detail")
    BINDINGS: ClassVar = bindings(ACTIONS, CLUSTERS)

    def __init__(self, context: Any, **kwargs: Any):
        super().__init__(context, **kwargs)
        self.k: int | None = None  # the user's k (None: the default for the sample)
        self.seed = 0
        self.loaded: dict[tuple[int, int | None, int], SampleClusters] = {}
        self.job_id: int | None = None  # the clustering job this tab started and waits for
        self.job_plan: ClusterPlan | None = None

    def compose(self) -> ComposeResult:
        # the k input stays shown with an error (a k that does not fit is fixed there)
        with Horizontal(id="cl-top"):
            yield Static("", id="cl-heading", markup=False)
            yield Label("k", id="cl-k-label", markup=False)
            yield FormInput(placeholder="default", id="cl-k", select_on_focus=False)
        yield Static("", id="cl-empty", classes="th-empty", markup=False)
        with Horizontal(id="cl-main"):
            yield KeyedTable(COLUMNS, id="cl-table")
            yield BarChart(id="cl-plot")
        yield Static("", id="cl-detail", markup=False)

    def on_mount(self) -> None:
        self.query_one("#cl-plot").border_title = "share of each cluster kept (│ whole pool)"
        self.query_one("#cl-table").border_title = "clusters (enter: their docs)"
        self.watch(self.app, "jobs", self.jobs_changed, init=False)

    def focus_content(self) -> None:
        self.query_one("#cl-table").focus()

    def take_focus(self) -> None:
        """The table appeared on the shown tab (it could not take the keys while it said why
        it was empty): the keys go to it, unless they are already in the tab."""
        pane = self.parent
        focused = self.screen.focused
        if pane is not None and pane.display and (focused is None or self not in focused.ancestors):
            self.focus_content()

    @property
    def result(self) -> ClustersAtKeep | None:
        """The last `kept_at(...)` shown."""
        return self.answer if isinstance(self.answer, ClustersAtKeep) else None

    # -- the read ------------------------------------------------------------------------------
    def wanted(self) -> ClusterKey | None:
        index = self.context.index
        if index is None:
            return None
        return (index.run_id, self.k, self.seed, self.session.keep, self.session.keep_by)

    def empty_note(self, key: ClusterKey | None) -> str | None:
        return (self.context.note or no_run_text()) if key is None else None

    def loading_text(self, key: ClusterKey | None) -> str:
        if self.job_id is not None:
            return self.job_text(None)
        return self.LOADING

    def show_empty(self, text: str) -> None:
        """The heading goes with the table."""
        if text:
            update_static(self.query_one("#cl-heading", Static), "")
        super().show_empty(text)

    def show_error(self, error: BetrError) -> None:
        """The error instead of the table; the keys the table had go to the k input (shown
        with it: a k that does not fit is fixed there)."""
        had_keys = self.query_one("#cl-table").has_focus
        super().show_error(error)
        if had_keys:
            self.query_one("#cl-k").focus()

    def read(self, key: ClusterKey | None) -> ClusterAnswer:
        assert key is not None  # empty_note says why there is none
        run_id, k, seed, keep, by = key
        ws = self.services.workspace
        sc = self.loaded.get((run_id, k, seed))
        if sc is None:
            try:
                sc = load_clusters(ws, run_id, k=k, seed=seed)
            except NotCached:
                return NotYet(plan_clusters(ws, run_id, k=k, seed=seed))
            self.loaded[(run_id, k, seed)] = sc
        index = self.context.index
        if index is None or index.run_id != run_id:  # another run since (the answer is dropped)
            with reading(ws) as conn:
                index = self.session.load_index(conn, run_id)
        return kept_at(index, sc, keep, by)

    # -- the job -------------------------------------------------------------------------------
    def start_job(self, plan: ClusterPlan) -> None:
        if self.job_id is not None:
            self.show_empty(self.job_text(None))
            return
        self.show_empty(f"clustering the {plan.sample_docs:,}-doc scored sample (k = {plan.k})…")
        self.run_worker(
            lambda: self.launch(plan),
            name="start clusters",
            group="cl-start",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def launch(self, plan: ClusterPlan) -> None:
        """(a thread) Start the plan's job; says so with a ClusterJobStarted."""
        try:
            assert plan.spec is not None  # only a cached plan has none
            job_id = start(self.services.workspace, plan.spec, title=plan.title)
        except BetrError as exc:
            self.post_message(ClusterJobStarted(plan, None, f"cannot cluster: {exc}"))
            return
        self.post_message(ClusterJobStarted(plan, job_id, f"{plan.title}: job {job_id} started"))

    @on(ClusterJobStarted)
    def job_started(self, message: ClusterJobStarted) -> None:
        message.stop()
        if message.job_id is None:
            self.show_empty(message.note)
            self.services.report_error(message.note)
            return
        self.job_id, self.job_plan = message.job_id, message.plan
        self.services.jobs_poll.now()
        self.show_empty(self.job_text(None))

    def job_text(self, job: JobInfo | None) -> str:
        plan = self.job_plan
        what = (
            "the scored sample" if plan is None else f"the {plan.sample_docs:,}-doc scored sample"
        )
        k = "" if plan is None else f" into k = {plan.k} topics"
        done = ""
        if job is not None and job.total:
            done = f": {job.done:,}/{job.total:,} {one_line(job.unit or '')}"
        return f"clustering {what}{k} (job {self.job_id}, a background job){done}…"

    def jobs_changed(self, jobs: list[JobInfo]) -> None:
        if self.job_id is None:
            return
        job = next((j for j in jobs if j.id == self.job_id), None)
        if job is None:
            return
        if job.state in ("queued", "running"):
            if self.answer is None or isinstance(self.answer, NotYet):
                self.show_empty(self.job_text(job))
            return
        self.job_id = None
        if job.state != "done":
            self.show_empty(f"clustering {job.state}: {one_line(job.error or '')}")
            return
        self.forget()
        self.refresh_content()

    # -- drawing -------------------------------------------------------------------------------
    def show(self, answer: ClusterAnswer) -> None:
        if isinstance(answer, NotYet):
            if answer.plan.cached:  # computed meanwhile (another face)
                self.forget()
                self.refresh_content()
            else:
                self.start_job(answer.plan)
            return
        self.show_empty("")
        self.take_focus()
        sc = answer.clusters
        k_input = self.query_one("#cl-k", Input)
        k_input.placeholder = f"{sc.k}"
        how = "the default for the sample" if self.k is None else "yours"
        update_static(
            self.query_one("#cl-heading", Static),
            f"{sc.k} topic clusters on the {sc.sample_docs:,}-doc scored sample (k-means, k "
            f"{how}, seed {sc.seed}) · at {fmt_keep(answer.keep * 100)} of {answer.by} the "
            f"whole pool keeps {pct(answer.pool_share)}, the sample "
            f"{pct(answer.sample_share)}; {OVER}{UNDER}: a cluster kept more/less",
        )
        self.fill(answer)
        self.plot(answer)
        self.show_detail()

    def fill(self, answer: ClustersAtKeep) -> None:
        table = self.query_one("#cl-table", KeyedTable)
        pool = answer.pool_share
        dim = Style(dim=True)
        rows: dict[str, list[Any]] = {}
        for c, kept in zip(answer.clusters.clusters, answer.rows, strict=True):
            mark = OVER if kept.kept_share > pool else UNDER if kept.kept_share < pool else " "
            lift = "-" if kept.lift is None else f"×{kept.lift:.2f}"
            rows[str(c.cluster)] = [
                Text(str(c.cluster), justify="right"),
                title_text(c.words),
                Text(abbreviate(c.docs), justify="right"),
                Text(abbreviate(c.tokens), justify="right"),
                Text(f"{pct(kept.kept_share)} {mark}", justify="right"),
                Text(lift, justify="right", style=dim),
                top_pull(c.pull),
            ]
        if set(rows) != {str(k.value) for k in table.rows}:
            table.clear()  # another clustering: its rows in its order
        table.sync(rows)

    def plot(self, answer: ClustersAtKeep) -> None:
        """Each cluster's kept share (the table's "kept"), the whole pool's as the line."""
        chart = self.query_one("#cl-plot", BarChart)
        height = chart.content_region.height
        fits = max(1, height - 1) if height else len(answer.rows)
        sc = answer.clusters
        shown = list(zip(sc.clusters, answer.rows, strict=True))[:fits]
        left = len(answer.rows) - len(shown)
        caption = f"whole pool │ {pct(answer.pool_share)}"
        if left:
            caption += f" · {left} more in the table"
        chart.show(
            [Bar(f"{c.cluster} {title_text(c.words, 14)}", r.kept_share * 100) for c, r in shown],
            answer.pool_share * 100,
            "%",
            caption,
        )

    def show_detail(self) -> None:
        """The highlighted cluster's title, pull per benchmark and nearest target examples."""
        answer = self.result
        key = self.query_one("#cl-table", KeyedTable).highlighted_key
        if answer is None or key is None:
            return
        c = answer.clusters.clusters[int(key)]
        pull = ", ".join(
            f"{one_line(b)} {n:,}" for b, n in sorted(c.pull.items(), key=lambda kv: -kv[1])
        )
        near = "; ".join(
            f"{one_line(e.benchmark)}/{one_line(e.example)} ({e.cosine:.2f}): "
            f"{one_line(e.text)[:60]}"
            for e in c.nearest
        )
        update_static(
            self.query_one("#cl-detail", Static),
            f"cluster {c.cluster}: {one_line(' '.join(c.words))} · {c.docs:,} docs · best match "
            f"of: {pull or '-'} · nearest examples: {near or '-'} · (default k = {K_RULE} of "
            "the sample's n docs; n types another)",
        )

    @on(DataTable.RowHighlighted, "#cl-table")
    def row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.show_detail()

    @on(DataTable.RowSelected, "#cl-table")
    def row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter: the Documents screen, filtered to the cluster's docs."""
        event.stop()
        answer = self.result
        if answer is None or event.row_key.value is None:
            return
        sc = answer.clusters
        self.open_cluster_docs((sc.k, sc.seed, int(event.row_key.value)))

    def open_cluster_docs(self, cluster: tuple[int, int, int]) -> None:
        async def switch() -> None:
            await self.app.switch_mode("documents")
            screen = self.app.screen
            if hasattr(screen, "request") and hasattr(screen, "wanted"):
                screen.request(replace(screen.wanted, cluster=cluster))

        self.app.call_later(switch)

    # -- k -------------------------------------------------------------------------------------
    def action_cluster_k(self) -> None:
        self.query_one("#cl-k", Input).focus()

    @on(Input.Submitted, "#cl-k")
    def k_typed(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        try:
            k = int(text) if text else None
        except ValueError:
            self.notify(
                f"k: '{text}' is not a whole number; type one such as 20, or nothing for the "
                "default, and press enter",
                severity="warning",
                markup=False,
            )
            return
        self.k = k
        self.focus_content()
        self.refresh_content()
