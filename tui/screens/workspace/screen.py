"""Screen 1, Workspace: what the workspace holds (corpora, benchmarks, target sets, runs).

Refreshed about once a second while visible (the next read is scheduled after the previous
one finished), rows updated in place by key, so a corpus appears as its import finishes.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Label, Static

from engine.api.catalog import (
    BenchmarkInfo,
    CorpusInfo,
    TargetSetInfo,
    WorkspaceSummary,
    summary,
)
from engine.api.run_targets import RunInfo, classifier_warning_line, targets_line, warning_line
from engine.units import abbreviate, format_number
from tui.action_model import bindings
from tui.polling import Poller
from tui.reads import reading
from tui.screens.base import BetrScreen
from tui.screens.workspace.actions import ACTIONS, SCOPE
from tui.screens.workspace.messages import WorkspaceRead
from tui.widgets.cells import (
    Cells,
    ThemeStyles,
    exact_count,
    flag_warning_lines,
    format_time,
    state_cell,
)
from tui.widgets.tables import KeyedTable

REFRESH_S = 1.0

SECTIONS: dict[str, tuple[str, list[tuple[str, str, int | None]], str]] = {
    # id: (title, columns (key, label, width), hint shown while empty)
    "corpora": (
        "Corpora",
        [
            ("name", "corpus", None),
            ("state", "state", None),
            ("docs", "docs", 8),
            ("tokens", "tokens", 8),
            ("chars", "size", 12),
            ("tokenizer", "tokenizer", None),
            ("skipped", "skipped", 7),
            ("sources", "sources", None),
            ("created", "created", 19),
        ],
        "no corpora yet: press i, or run  betr import docs PATH --corpus NAME",
    ),
    "benchmarks": (
        "Benchmarks",
        [
            ("name", "benchmark", None),
            ("category", "category", None),
            ("split", "split", None),
            ("format", "format", None),
            ("examples", "examples", 8),
            ("chars", "size", 12),
            ("skipped", "skipped", 7),
        ],
        "no benchmarks yet: betr import bench PATH --name NAME",
    ),
    "targets": (
        "Target sets",
        [
            ("name", "target set", None),
            ("members", "benchmarks", None),
            ("n", "n", 3),
            ("examples", "examples", 8),
        ],
        "no target sets yet (a target set groups benchmarks; `betr demo` builds two)",
    ),
    "runs": (
        "Runs",
        [
            ("id", "run", 5),
            ("kind", "kind", None),
            ("name", "name", None),
            ("state", "state", None),
            ("corpus", "corpus", None),
            ("target_set", "target set", None),
            ("created", "created", 19),
        ],
        "no runs yet",
    ),
}


def number(n: int | float | None) -> Text:
    return Text(abbreviate(n), justify="right")


def summary_text(s: dict[str, int]) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return " · ".join(
        [
            f"{plural(s['corpora'], 'ready corpus').replace('corpuss', 'corpora')} "
            f"({abbreviate(s['docs'])} docs, {abbreviate(s['tokens'])} tokens)",
            f"{plural(s['benchmarks'], 'benchmark')} ({abbreviate(s['examples'])} examples)",
            plural(s["target_sets"], "target set"),
            plural(s["runs"], "run"),
            plural(s["jobs"], "job"),
        ]
    )


class WorkspaceScreen(BetrScreen):
    SCOPE = SCOPE
    TITLE = "Workspace"
    BINDINGS = bindings(ACTIONS, SCOPE)

    def __init__(self) -> None:
        super().__init__()
        self.refresh_poll = Poller(self, self.read_workspace, REFRESH_S)
        self.details: dict[str, dict[str, str]] = {name: {} for name in SECTIONS}
        self.corpus_states: dict[str, str] = {}
        self.data: WorkspaceSummary | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("reading the workspace…", id="ws-summary", markup=False)
        with VerticalScroll(id="ws-body"):
            for name, (title, columns, hint) in SECTIONS.items():
                with Vertical(classes="ws-section", id=f"section-{name}"):
                    yield Label(title, classes="section-title", id=f"title-{name}", markup=False)
                    yield KeyedTable(columns, id=f"table-{name}")
                    yield Static(hint, classes="empty-hint", id=f"hint-{name}", markup=False)
        yield Static("", id="ws-detail", markup=False)

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self.restyle)
        self.query_one("#table-corpora", KeyedTable).focus()

    def on_screen_resume(self) -> None:
        self.refresh_poll.start()

    def on_screen_suspend(self) -> None:
        self.refresh_poll.pause()

    # -- reading -------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="workspace-read")
    def read_workspace(self) -> None:
        data = None
        try:
            with reading(self.betr.workspace) as conn:
                data = summary(conn)
        finally:
            self.post_message(WorkspaceRead(data))

    @on(WorkspaceRead)
    def workspace_read(self, message: WorkspaceRead) -> None:
        self.refresh_poll.finished(ok=message.data is not None)
        if message.data is not None:
            self.data = message.data
            self.show(message.data)

    def restyle(self) -> None:
        if self.data is not None:
            self.show(self.data)

    # -- showing -------------------------------------------------------------------------------
    def show(self, data: WorkspaceSummary) -> None:
        styles = ThemeStyles.from_variables(self.app.get_css_variables())
        self.query_one("#ws-summary", Static).update(summary_text(data.summary))
        self.corpus_states = {c.name: c.state for c in data.corpora}
        self.fill("corpora", {c.name: self.corpus_row(c, styles) for c in data.corpora})
        self.details["corpora"] = {c.name: self.corpus_detail(c) for c in data.corpora}
        self.fill("benchmarks", {b.name: self.benchmark_row(b) for b in data.benchmarks})
        self.details["benchmarks"] = {b.name: self.benchmark_detail(b) for b in data.benchmarks}
        self.fill("targets", {t.name: self.target_row(t) for t in data.targets})
        self.details["targets"] = {
            t.name: f"{t.name}: {', '.join(t.members) or 'no benchmarks'} · "
            f"{exact_count(t.n_examples)} examples"
            for t in data.targets
        }
        self.fill(
            "runs", {str(r.id): self.run_row(r, styles) for r in data.runs}, sort="id", rev=True
        )
        self.details["runs"] = {str(r.id): self.run_detail(r) for r in data.runs}
        self.show_detail()

    def fill(
        self, name: str, rows: dict[str, Cells], sort: str = "name", rev: bool = False
    ) -> None:
        table = self.query_one(f"#table-{name}", KeyedTable)
        table.sync(rows, sort_by=sort, sort_key=sort_value, reverse=rev)
        table.display = bool(rows)
        self.query_one(f"#hint-{name}").display = not rows
        self.query_one(f"#title-{name}", Label).update(f"{SECTIONS[name][0]} · {len(rows)}")

    @staticmethod
    def corpus_row(c: CorpusInfo, styles: ThemeStyles) -> Cells:
        note = f"job {c.job_id}" if c.state == "importing" and c.job_id else ""
        sources = c.sources
        shown = sources[0].rsplit("/", 1)[-1] if sources else "-"
        if len(sources) > 1:
            shown += f" +{len(sources) - 1}"
        return (
            c.name,
            state_cell(c.state, styles, note),
            number(c.n_docs),
            number(c.n_tokens),
            Text(f"{abbreviate(c.n_chars)} chars", justify="right"),
            c.tokenizer,
            number(c.n_skipped),
            shown,
            format_time(c.created_at),
        )

    @staticmethod
    def corpus_detail(c: CorpusInfo) -> str:
        return (
            f"{c.name}: {exact_count(c.n_docs)} docs · {exact_count(c.n_tokens)} tokens · "
            f"{exact_count(c.n_chars)} chars · {exact_count(c.n_skipped)} skipped · "
            f"text field '{c.text_field}' · tokenizer {c.tokenizer} · "
            f"sources: {', '.join(c.sources) or '-'}"
        )

    @staticmethod
    def benchmark_row(b: BenchmarkInfo) -> Cells:
        return (
            b.name,
            b.category or "-",
            b.split or "-",
            b.format,
            number(b.n_examples),
            Text(f"{abbreviate(b.n_chars)} chars", justify="right"),
            number(b.n_skipped),
        )

    @staticmethod
    def benchmark_detail(b: BenchmarkInfo) -> str:
        fields = " + ".join(b.text_fields or []) or "-"
        return (
            f"{b.name}: {exact_count(b.n_examples)} examples · text: {fields} · "
            f"{exact_count(b.n_chars)} chars of text · {exact_count(b.n_skipped)} skipped · "
            f"sources: {', '.join(b.sources) or '-'}"
        )

    @staticmethod
    def target_row(t: TargetSetInfo) -> Cells:
        return (
            t.name,
            ", ".join(t.members) or "-",
            number(t.n_benchmarks),
            number(t.n_examples),
        )

    @staticmethod
    def run_row(r: RunInfo, styles: ThemeStyles) -> Cells:
        return (
            Text(str(r.id), justify="right"),
            r.kind,
            r.name or "-",
            state_cell(r.state, styles, "⚠ degenerate" if r.classifier_warnings else ""),
            r.corpus or "-",
            (r.target_set or "-") + (" ⚠ eval split" if warning_line(r) else ""),
            format_time(r.created_at),
        )

    @staticmethod
    def run_detail(r: RunInfo) -> str:
        """What the run produced: targets (examples used per benchmark), sample and k, held-out
        classifier metrics, applied docs; first any warning (a degenerate classifier, targets
        from an evaluation split)."""
        cfg, m = r.config, r.metrics
        parts = [f"run {r.id} ({r.kind}, {r.state})", f"config {r.config_hash[:12]}"]
        if r.targets:
            parts.append(f"targets {targets_line(r)}")
        if cfg.get("sample"):
            parts.append(
                f"sample {exact_count(cfg['sample'])} docs · {cfg.get('aggregate', '-')} · "
                f"{cfg.get('model_id', '-')}"
            )
        if m.get("k_final"):
            parts.append(f"k={m['k_final']} ({exact_count(m.get('n_within_k', 0))} docs within k)")
        clf = m.get("classifier") or {}

        def metric(name: str, digits: int = 3) -> str:
            return format_number(clf.get(name), digits, missing="n/a")

        if clf:
            parts.append(
                f"held-out n={clf.get('n')}: acc {metric('accuracy')} · P {metric('precision')} · "
                f"R {metric('recall')} · AUC {metric('roc_auc')} · Spearman {metric('spearman')} · "
                f"p spread {metric('p_spread', 2)}"
            )
        if m.get("applied_docs"):
            parts.append(f"applied to {exact_count(m['applied_docs'])} docs")
        warnings = [w for w in (classifier_warning_line(r), warning_line(r)) if w]
        return "".join(f"⚠ {w}\n" for w in warnings) + " · ".join(parts)

    # -- the detail line: exact values of the highlighted row ------------------------------------
    @on(DataTable.RowHighlighted)
    def row_highlighted(self) -> None:
        self.show_detail()

    def on_descendant_focus(self) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        table = self.focused if isinstance(self.focused, KeyedTable) else None
        text = ""
        if table is not None and table.id:
            key = table.highlighted_key
            text = self.details[table.id.removeprefix("table-")].get(key or "", "")
        self.query_one("#ws-detail", Static).update(self.flag_warning(text))

    def flag_warning(self, text: str) -> Text | str:
        """A detail whose first lines are warnings (⚠ ...): those lines in the warning colour."""
        if not text.startswith("⚠"):
            return text
        return flag_warning_lines(text, self.app.get_css_variables().get("text-warning"))

    # -- actions -------------------------------------------------------------------------------
    def action_import_docs(self) -> None:
        from tui.screens.workspace.import_docs import ImportDocsScreen

        self.app.push_screen(ImportDocsScreen(), self.import_started)

    def import_started(self, job_id: int | None) -> None:
        if job_id is None:
            return
        self.notify(f"job {job_id} started")
        self.betr.open_jobs(select_job=job_id)

    def action_use_corpus(self) -> None:
        name = self.query_one("#table-corpora", KeyedTable).highlighted_key
        if name is None:
            self.notify("no corpus to use yet: press i to import one", severity="warning")
            return
        if self.corpus_states.get(name) != "ready":
            self.notify(f"corpus '{name}' is still importing", severity="warning", markup=False)
            return
        self.session.choose_corpus(name)

    def action_use_run(self) -> None:
        key = self.query_one("#table-runs", KeyedTable).highlighted_key
        if key is None:
            self.notify("no run yet: score a corpus first (betr score)", severity="warning")
            return
        run = self.session.runs.get(int(key))
        if run is not None and run.state == "pending":
            self.notify(f"run {key} is not scored yet", severity="warning", markup=False)
            return
        self.session.choose_run(int(key))
        self.notify(f"current run: {key}", markup=False)

    @on(DataTable.RowSelected, "#table-runs")
    def run_selected(self) -> None:
        self.action_use_run()

    @on(DataTable.RowSelected, "#table-corpora")
    def corpus_selected(self) -> None:
        self.action_use_corpus()


def sort_value(value: Any) -> Any:
    """Sort cells by what they show (Text cells by their plain text, ids numerically)."""
    plain = value.plain if isinstance(value, Text) else value
    return int(plain) if isinstance(plain, str) and plain.isdigit() else plain
