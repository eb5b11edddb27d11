"""Screen 5, rBridge: a benchmark's reasoning traces scored by a proxy, token by token, and the
proxy curve.

Everything is read in thread workers through `engine.api` (`rbridge_views.overview` and
`proxy_scores`, `rbridge.trace_list` and `trace_tokens`); answers that arrive for a selection
the user has left are dropped. Scoring and training run as detached jobs; the App's job poll
drives the job line, and a job that finishes re-reads the scores.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, DataTable, Select, Static

from engine.api import jobs as api_jobs
from engine.api.rbridge import TraceScore
from engine.api.rbridge_views import ProxyScore, RbridgeOverview, overview, proxy_scores
from engine.units import format_number
from tui.action_model import bindings
from tui.safe_text import plain
from tui.screens.base import BetrScreen
from tui.screens.rbridge.actions import ACTIONS, SCOPE, TOKEN_VIEW
from tui.screens.rbridge.messages import (
    OverviewRead,
    ProxyPicked,
    ScorePlanned,
    ScoresRead,
    TokensRead,
    TracesRead,
)
from tui.screens.rbridge.proxytable import SERIES, ProxyPlot, ProxyTable
from tui.screens.rbridge.summary import JOB_KINDS, NO_PROXIES, jobs_text, name, no_traces
from tui.screens.rbridge.summary import summary_text as make_summary
from tui.screens.rbridge.tokens import TraceTokens
from tui.screens.rbridge.tokenview import TokenPanel, TokenView
from tui.screens.rbridge.tracelist import TraceList
from tui.screens.rbridge.trainform import TrainProxyDialog
from tui.widgets.cells import ThemeStyles
from tui.widgets.select import PlainSelect

VIEWS = ("rb-traces-view", "rb-proxies-view")


class RbridgeScreen(BetrScreen):
    SCOPE = SCOPE
    TITLE = "rBridge"
    BINDINGS = bindings(ACTIONS, SCOPE)
    WIDGET_SCOPES = (TOKEN_VIEW,)
    # the keys go to the trace list, never to a Select (enter and arrows would open it; b and
    # p cycle the benchmark and the proxy instead)
    AUTO_FOCUS = "#rb-traces"

    def __init__(self) -> None:
        super().__init__()
        self.overview: RbridgeOverview | None = None
        self.benchmark: str | None = None
        self.proxy: str | None = None
        self.proxy_rows: list[ProxyScore] = []
        self.score_id: int | None = None  # the score whose traces are listed
        self.traces: list[TraceScore] | None = None
        self.tokens: TraceTokens | None = None
        self.wanted_trace: int | None = None
        self.started_jobs: set[int] = set()
        self.options: dict[str, list[tuple[str, str]]] = {"#rb-bench": [], "#rb-proxy": []}
        self._job_states: dict[int, tuple[str, int]] = {}

    # -- layout --------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        with Horizontal(id="rb-top"):
            yield PlainSelect[str]([], prompt="benchmark", allow_blank=True, id="rb-bench")
            yield PlainSelect[str]([], prompt="proxy", allow_blank=True, id="rb-proxy")
            yield Static("reading the workspace…", id="rb-summary", markup=False)
        yield Static("", id="rb-jobs", markup=False)
        yield Static("", id="rb-empty", markup=False)
        with ContentSwitcher(initial=VIEWS[0], id="rb-views"):
            with Horizontal(id="rb-traces-view"):
                with Vertical(id="rb-trace-side"):
                    yield TraceList(id="rb-traces")
                    yield Static("", id="rb-traces-hint", markup=False)
                yield TokenPanel(id="rb-token-panel")
            with Horizontal(id="rb-proxies-view"):
                yield ProxyTable(id="rb-proxies")
                yield ProxyPlot(id="rb-plot")

    def on_mount(self) -> None:
        self.query_one("#rb-jobs").display = False
        self.query_one("#rb-empty").display = False
        self.query_one("#rb-trace-side").border_title = "Traces"
        self.query_one(TraceList).focus()
        self.watch(self.app, "jobs", self.jobs_changed)

    def on_screen_resume(self) -> None:
        # also the first showing (mount, then resume): one read, not two racing each other
        self.read_overview()

    @property
    def trace_list(self) -> TraceList:
        return self.query_one(TraceList)

    @property
    def panel(self) -> TokenPanel:
        return self.query_one(TokenPanel)

    @property
    def selected_row(self) -> ProxyScore | None:
        return next((r for r in self.proxy_rows if r.proxy == self.proxy), None)

    # -- reads (thread workers) ----------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="rbridge-overview")
    def read_overview(self) -> None:
        self.post_message(OverviewRead(overview(self.betr.workspace)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="rbridge-scores")
    def read_scores(self, benchmark: str) -> None:
        self.post_message(ScoresRead(benchmark, proxy_scores(self.betr.workspace, benchmark)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="rbridge-traces")
    def read_traces(self, score_id: int) -> None:
        from engine.api.rbridge import trace_list

        self.post_message(TracesRead(score_id, trace_list(self.betr.workspace, score_id)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="rbridge-tokens")
    def read_tokens(self, score_id: int, trace_id: int) -> None:
        from engine.api.rbridge import trace_tokens

        data = trace_tokens(self.betr.workspace, score_id, trace_id)
        self.post_message(TokensRead(score_id, trace_id, TraceTokens.from_api(data)))

    # -- benchmark and proxy -------------------------------------------------------------------
    @on(OverviewRead)
    def overview_read(self, message: OverviewRead) -> None:
        data = self.overview = message.overview
        benches = [name(b["benchmark"]) for b in data.benchmarks]
        raw_benches = [b["benchmark"] for b in data.benchmarks]
        proxies = [p["name"] for p in data.proxies]
        if self.benchmark not in raw_benches and self.proxy not in proxies:
            # first showing: the newest scored pair, so the traces and tokens have numbers
            pair = next(iter(data.scored), None)
            if pair is not None and pair.benchmark in raw_benches and pair.proxy in proxies:
                self.benchmark, self.proxy = pair.benchmark, pair.proxy
        if self.benchmark not in raw_benches:
            self.benchmark = raw_benches[0] if raw_benches else None
        if self.proxy not in proxies:
            self.proxy = proxies[0] if proxies else None
        self._set_options("#rb-bench", list(zip(benches, raw_benches, strict=True)), self.benchmark)
        self._set_options("#rb-proxy", [(name(p), p) for p in proxies], self.proxy)
        empty = no_traces() if not raw_benches else NO_PROXIES if not proxies else ""
        if not raw_benches and not proxies:
            empty = f"{no_traces()}\n\n{NO_PROXIES}"
        self.show_empty(empty)
        if self.benchmark is not None:
            self.read_scores(self.benchmark)
        else:
            self.query_one("#rb-summary", Static).update("")

    def _set_options(
        self, selector: str, options: list[tuple[str, str]], value: str | None
    ) -> None:
        select = self.query_one(selector, Select)
        if self.options[selector] != options:
            self.options[selector] = options
            with select.prevent(Select.Changed):
                select.set_options(options)
        if value is not None and select.value != value:
            with select.prevent(Select.Changed):
                select.value = value

    def show_empty(self, text: str) -> None:
        empty = self.query_one("#rb-empty", Static)
        empty.update(text)
        empty.display = bool(text)
        self.query_one("#rb-views").display = not text

    @on(Select.Changed, "#rb-bench")
    def bench_picked(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.benchmark:
            self.choose(benchmark=event.value)

    @on(Select.Changed, "#rb-proxy")
    def proxy_picked(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.proxy:
            self.choose(proxy=event.value)

    @on(ProxyPicked)
    def proxy_table_picked(self, message: ProxyPicked) -> None:
        if message.proxy != self.proxy:
            self.choose(proxy=message.proxy)

    def choose(self, *, benchmark: str | None = None, proxy: str | None = None) -> None:
        if benchmark is not None:
            self.benchmark = benchmark
            self._set_options("#rb-bench", self.options["#rb-bench"], benchmark)
            self.read_scores(benchmark)
        if proxy is not None:
            self.proxy = proxy
            self._set_options("#rb-proxy", self.options["#rb-proxy"], proxy)
            self.show_selected()

    def _cycle(self, selector: str, current: str | None) -> str | None:
        values = [v for _label, v in self.options[selector]]
        if not values:
            return None
        at = values.index(current) if current in values else -1
        return values[(at + 1) % len(values)]

    def action_next_rb_benchmark(self) -> None:
        nxt = self._cycle("#rb-bench", self.benchmark)
        if nxt is None:
            self.notify("no benchmark has traces yet: betr rbridge import", severity="warning")
        elif nxt != self.benchmark:
            self.choose(benchmark=nxt)

    def action_next_rb_proxy(self) -> None:
        nxt = self._cycle("#rb-proxy", self.proxy)
        if nxt is None:
            self.notify("no proxies yet: betr proxy add PATH, or n to train one", markup=False)
        elif nxt != self.proxy:
            self.choose(proxy=nxt)

    # -- the selected score --------------------------------------------------------------------
    @on(ScoresRead)
    def scores_read(self, message: ScoresRead) -> None:
        if message.benchmark != self.benchmark:
            return
        self.proxy_rows = message.rows
        self.show_selected()

    def show_selected(self) -> None:
        """Summary, proxy table and plot for the selected proxy; its traces when scored."""
        row = self.selected_row
        self.show_summary()
        self.query_one(ProxyTable).show(self.proxy_rows, self.proxy)
        self.query_one(ProxyPlot).show(self.proxy_rows, row)
        self.query_one(ProxyTable).border_title = plain(f"Proxies on {name(self.benchmark)}")
        score_id = row.score_id if row else None
        if score_id is None:
            self.score_id, self.traces = None, None
            self.query_one("#rb-trace-side").border_title = "Traces"
            self.trace_list.show([])
            self.show_tokens(None)
            hint = (
                "no proxy selected" if row is None else make_summary(row, self.benchmark, width=120)
            )
            self.query_one("#rb-traces-hint", Static).update(hint)
            self.query_one("#rb-traces-hint").display = True
            return
        if score_id != self.score_id:
            self.score_id, self.traces = score_id, None
            self.query_one("#rb-traces-hint", Static).update(
                f"reading the traces of score #{score_id}…"
            )
            self.query_one("#rb-traces-hint").display = True
            self.read_traces(score_id)

    def show_summary(self) -> None:
        text = make_summary(self.selected_row, self.benchmark, width=self.size.width)
        self.query_one("#rb-summary", Static).update(text)

    def on_resize(self) -> None:
        if self.overview is not None:
            self.show_summary()

    @on(TracesRead)
    def traces_read(self, message: TracesRead) -> None:
        if message.score_id != self.score_id:
            return
        rows = self.traces = message.rows
        self.query_one("#rb-traces-hint").display = not rows
        self.query_one("#rb-traces-hint", Static).update("" if rows else "this score has no traces")
        self.query_one("#rb-trace-side").border_title = f"Traces ({len(rows)})"
        self.trace_list.show(rows)
        self.request_tokens(self.trace_list.highlighted_trace)

    @on(DataTable.RowHighlighted, "#rb-traces")
    def trace_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.request_tokens(int(event.row_key.value))

    @on(DataTable.RowSelected, "#rb-traces")
    def trace_selected(self) -> None:
        self.query_one(TokenView).focus()

    def request_tokens(self, trace_id: int | None) -> None:
        if trace_id is None or self.score_id is None:
            self.show_tokens(None)
            return
        if self.wanted_trace == trace_id and self.tokens is not None:
            return
        self.wanted_trace = trace_id
        self.panel.show_loading(f"trace #{trace_id}")
        self.read_tokens(self.score_id, trace_id)

    @on(TokensRead)
    def tokens_read(self, message: TokensRead) -> None:
        if (message.score_id, message.trace_id) != (self.score_id, self.wanted_trace):
            return
        self.show_tokens(message.tokens)

    def show_tokens(self, tokens: TraceTokens | None) -> None:
        if tokens is None:
            self.wanted_trace = None
        self.tokens = tokens
        title = ""
        if tokens is not None:
            score = format_number(tokens.score, 4)
            flags = f" · {', '.join(name(f) for f in tokens.flags)}" if tokens.flags else ""
            title = f"trace {name(tokens.ext_id)} · score {score} · {len(tokens)} tokens{flags}"
        self.panel.show(tokens, title)

    # -- jobs ----------------------------------------------------------------------------------
    def jobs_changed(self, jobs: list[api_jobs.JobInfo]) -> None:
        mine = {j.id: (j.state, j.done) for j in jobs if j.kind in JOB_KINDS}
        styles = ThemeStyles.from_variables(self.app.theme_variables or {})
        text = jobs_text(jobs, self.started_jobs, styles)
        line = self.query_one("#rb-jobs", Static)
        line.display = text is not None
        if text is not None:
            line.update(text)
        if mine != self._job_states:
            changed_state = any(
                self._job_states.get(i, (None,))[0] != s for i, (s, _d) in mine.items()
            )
            self._job_states = mine
            if changed_state and self.overview is not None:
                self.read_overview()  # a finished score or new checkpoints: read again

    def action_score_proxy(self) -> None:
        if self.benchmark is None or self.proxy is None:
            self.notify("pick a benchmark with traces and a proxy first (b, p)", severity="warning")
            return
        self.start_score(self.proxy, self.benchmark)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rbridge-score")
    def start_score(self, proxy: str, benchmark: str) -> None:
        from engine.api.rbridge import plan_score

        workspace = self.betr.workspace
        plan = plan_score(workspace, proxy, benchmark)
        if plan.cached or plan.spec is None:
            self.post_message(ScorePlanned(plan.score_id, None, proxy, benchmark))
            return
        title = f"rbridge score {proxy} on {benchmark}"
        job_id = api_jobs.start(workspace, plan.spec, title=title)
        self.post_message(ScorePlanned(plan.score_id, job_id, proxy, benchmark))

    @on(ScorePlanned)
    def score_planned(self, message: ScorePlanned) -> None:
        proxy, benchmark, job_id = name(message.proxy), name(message.benchmark), message.job_id
        if job_id is None:
            self.notify(
                f"{proxy} on {benchmark} is already scored (score #{message.score_id}, "
                "cached: same model files, traces and weighting)",
                markup=False,
            )
            return
        self.started_jobs.add(job_id)
        self.notify(
            f"scoring {proxy} on {benchmark}: job {job_id} (progress above; "
            "2 opens the Jobs screen)",
            markup=False,
        )
        self.betr.jobs_poll.now()

    def action_train_proxy(self) -> None:
        corpora = self.overview.corpora if self.overview is not None else []
        corpus = self.session.corpus if self.session.corpus in corpora else None

        def started(job_id: int | None) -> None:
            if job_id is None:
                return
            self.started_jobs.add(job_id)
            self.notify(
                f"training job {job_id} started: its checkpoints appear as proxies when saved",
                markup=False,
            )
            self.betr.jobs_poll.now()

        self.app.push_screen(TrainProxyDialog(corpus or (corpora[0] if corpora else None)), started)

    # -- the token view ------------------------------------------------------------------------
    def action_cycle_colouring(self) -> None:
        self.panel.cycle_colouring()  # the panel's subtitle and legend say which

    def _jump(self, step: int) -> None:
        if self.tokens is None or not self.panel.jump_top(step):
            self.notify("no scored tokens shown: pick a scored trace", severity="warning")

    def action_next_top_token(self) -> None:
        self._jump(+1)

    def action_prev_top_token(self) -> None:
        self._jump(-1)

    def action_sort_traces(self) -> None:
        self.query_one(ContentSwitcher).current = VIEWS[0]
        self.trace_list.cycle_sort()  # the sorted column's header carries ▼ (or ▲)

    def action_toggle_rb_view(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        switcher.current = VIEWS[1] if switcher.current == VIEWS[0] else VIEWS[0]
        if switcher.current == VIEWS[0]:
            self.trace_list.focus()
        else:
            self.query_one(ProxyTable).focus()

    def action_next_rb_metric(self) -> None:
        plot = self.query_one(ProxyPlot)
        keys = [key for key, _label, _colour in SERIES]
        metric = keys[(keys.index(plot.metric) + 1) % len(keys)]
        self.query_one(ContentSwitcher).current = VIEWS[1]
        plot.show(self.proxy_rows, self.selected_row, metric)

    def action_focus_traces(self) -> None:
        self.query_one(ContentSwitcher).current = VIEWS[0]
        self.trace_list.focus()
