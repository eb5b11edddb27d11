"""Screen 3, Documents: the current run's documents, ranked, sorted, filtered and searched.

The view (engine `make_view`) is computed in a thread worker; the list keeps its old rows until
the new view lands. Rows are fetched by the list itself, a block at a time, as they scroll in.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Static

from engine.api.browse import Query, RunIndex, View, make_view, page, view_ready
from engine.api.columns import (
    ColumnChoice,
    choose_columns,
    column,
    column_choices,
    parse_sort,
    sort_spec,
)
from engine.api.view_export import export_view
from engine.errors import BetrError
from engine.units import abbreviate, format_number
from tui.action_model import bindings
from tui.reads import reading
from tui.screens.base import DIALOG, DIALOG_ACTIONS, BetrModal, BetrScreen
from tui.screens.documents.actions import ACTIONS, DOC_LIST, FREQUENCY, SCOPE
from tui.screens.documents.browsing import ColumnPicker, ColumnsDialog, FrequencyPanel
from tui.screens.documents.doclist import DocList, row_detail
from tui.screens.documents.messages import (
    Exported,
    FrequencyPicked,
    HeaderClicked,
    RowHighlighted,
    RowsLoaded,
    ViewFailed,
    ViewReady,
)
from tui.screens.documents.viewer import DocViewerScreen, keep_text
from tui.widgets.cells import flag_warning_lines

if TYPE_CHECKING:
    from engine.api.browse import DocRow
    from tui.session import RunState

EMPTY = "no scored run yet: score a corpus (betr score) or press r on a run in the Workspace screen"


def info_line(index: RunIndex, view: View) -> str:
    """ "run · 1,234 of 20,000 docs · sort … · keep 10% of tokens: p ≥ 0.81 · …", and a line
    more when the run's classifier is degenerate, and when its targets come from an evaluation
    split."""
    q = view.query
    parts = [index.name, f"{len(view):,} of {len(index):,} docs", q.describe()]
    if view.cut is not None and view.cut > 0:
        parts.append(
            f"{keep_text(q)}: {view.cut:,} docs kept, p ≥ {format_number(index.prob[view.cut - 1], 4)}"
        )
    elif view.cut is None:
        parts.append("not applied yet: the scored sample in BETR order, no probabilities")
    n_sample = int(np.count_nonzero(index.in_sample))
    parts.append(f"score and benchmark on the {n_sample:,}-doc scored sample")
    warnings = [w for w in (index.classifier_warning, index.split_warning) if w]
    return " · ".join(parts) + "".join(f"\n⚠ {w}" for w in warnings)


def empty_view_text(q: Query) -> str:
    """Why a view shows no document, in words (an empty list alone says nothing)."""
    if q.contaminated:
        return (
            "no document of this run shares a word n-gram with a benchmark example in its "
            "newest contamination check · x or c shows every document again"
        )
    return f"no document matches this view ({q.describe()}) · c clears the filters"


class PromptDialog(BetrModal[str | None]):
    """One line of input (search, rank); dismissed with the text, or None when closed."""

    BINDINGS = bindings(DIALOG_ACTIONS, DIALOG)

    def __init__(self, title: str, hint: str, value: str = "", placeholder: str = ""):
        super().__init__()
        self.title_text, self.hint, self.value = title, hint, value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="doc-dialog") as dialog:
            dialog.border_title = self.title_text
            yield Label(self.hint, markup=False)
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input")

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    @on(Input.Submitted, "#prompt-input")
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())


class FilterDialog(BetrModal[Query | None]):
    """Source substring, metadata field=value and scored-sample-only; dismissed with a Query."""

    BINDINGS = bindings(DIALOG_ACTIONS, DIALOG)

    def __init__(self, query: Query):
        super().__init__()
        self.current = query

    def compose(self) -> ComposeResult:
        q = self.current
        with Vertical(classes="doc-dialog") as dialog:
            dialog.border_title = "Filter documents"
            yield Label("Source contains", markup=False)
            yield Input(q.source or "", placeholder="e.g. part-0003", id="filter-source")
            yield Label("Metadata field=value", markup=False)
            meta = f"{q.meta[0]}={q.meta[1]}" if q.meta else ""
            yield Input(meta, placeholder="e.g. lang=en", id="filter-meta")
            yield Checkbox("scored sample only", q.sample_only, id="filter-sample")
            yield Static("", id="filter-error", markup=False)
            with Horizontal(classes="doc-dialog-buttons"):
                yield Button("Apply", variant="primary", id="filter-apply")
                yield Button("Cancel", id="filter-cancel")

    def on_mount(self) -> None:
        self.query_one("#filter-source", Input).focus()
        self.query_one("#filter-error").display = False

    @on(Button.Pressed, "#filter-cancel")
    def cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    @on(Button.Pressed, "#filter-apply")
    def apply(self) -> None:
        source = self.query_one("#filter-source", Input).value.strip() or None
        meta_text = self.query_one("#filter-meta", Input).value.strip()
        meta = None
        if meta_text:
            key, eq, value = meta_text.partition("=")
            if not eq or not key.strip():
                error = self.query_one("#filter-error", Static)
                error.update("metadata filter: write field=value, e.g. lang=en")
                error.display = True
                return
            meta = (key.strip(), value.strip())
        sample = self.query_one("#filter-sample", Checkbox).value
        self.dismiss(replace(self.current, source=source, meta=meta, sample_only=sample))


class DocumentsScreen(BetrScreen):
    SCOPE = SCOPE
    TITLE = "Documents"
    BINDINGS = bindings(ACTIONS, SCOPE)
    WIDGET_SCOPES = (DOC_LIST, FREQUENCY)

    def __init__(self) -> None:
        super().__init__()
        self.index: RunIndex | None = None
        self.view: View | None = None
        self.wanted = Query()  # the query asked for (the view may still be on its way)
        self.loading_run: int | None = None
        self.choices: dict[int, list[ColumnChoice]] = {}  # corpus id -> its columns

    def compose_body(self) -> ComposeResult:
        yield Static("", id="docs-info", markup=False)
        yield DocList(id="docs-list")
        yield FrequencyPanel(id="docs-frequency")
        yield Static("", id="docs-row", markup=False)
        yield Static(EMPTY, id="docs-empty", markup=False)

    def on_mount(self) -> None:
        self.query_one(DocList).focus()
        self.watch(self.session, "run_id", self.run_changed)
        # the same run scored -> applied: its list now covers the whole corpus
        self.watch(self.session, "run_state", self.run_state_changed, init=False)
        self.watch(self.session, "keep", self.keep_changed, init=False)
        self.watch(self.session, "keep_by", self.keep_changed, init=False)

    def on_screen_resume(self) -> None:
        self.query_one(DocList).reload()  # labels set in the viewer show up
        if self.session.run_id is None:
            self.run_changed(None)  # the runs listed in the empty text may have changed

    # -- the view ------------------------------------------------------------------------------
    @property
    def doclist(self) -> DocList:
        return self.query_one(DocList)

    def current_keep(self) -> tuple[float, str]:
        return self.session.keep, self.session.keep_by

    def run_changed(self, run_id: int | None) -> None:
        self.query_one("#docs-empty").display = run_id is None
        self.query_one("#docs-empty", Static).update(self.session.no_run_hint() or EMPTY)
        self.doclist.display = run_id is not None
        if run_id is None:
            self.index = self.view = None
            self.doclist.clear()
            self.query_one("#docs-info", Static).update("")
            return
        if self.index is not None and self.index.run_id != run_id:
            self.wanted = Query(sort=self.wanted.sort)  # another run: its own benchmarks
        self.request(self.wanted)

    def run_state_changed(self, state: RunState | None) -> None:
        if state is not None and self.index is not None and state[0] == self.index.run_id:
            self.run_changed(state[0])

    def keep_changed(self) -> None:
        self.request(self.wanted)

    def request(self, query: Query, cursor: int = 0) -> None:
        """Compute `query`'s view in a worker; the list keeps its rows until it lands."""
        run_id = self.session.run_id
        if run_id is None:
            return
        keep, by = self.current_keep()
        self.wanted = replace(query, keep=keep, by=by)
        index = self.session.cached_index(run_id)
        if index is not None and index.corpus_id in self.choices and view_ready(index, self.wanted):
            # pure numpy over a loaded index (a few ms at 1M docs): no worker round trip
            try:
                view = make_view(None, index, self.wanted)
            except BetrError as exc:
                self.betr.report_error(str(exc))
                self.view_failed()
                return
            self.view_ready(ViewReady(index, view, cursor))
            return
        if self.index is None or self.index.run_id != run_id:
            self.query_one("#docs-info", Static).update(f"loading run {run_id}…")
        self.load_view(run_id, self.wanted, cursor)

    @work(thread=True, exclusive=True, exit_on_error=False, group="documents-view")
    def load_view(self, run_id: int, query: Query, cursor: int) -> None:
        try:
            with reading(self.betr.workspace) as conn:
                index = self.session.load_index(conn, run_id)
                view = make_view(conn, index, query, workspace=self.betr.workspace)
                choices = column_choices(conn, index.corpus_id)
        except BetrError:
            self.post_message(ViewFailed())
            raise
        self.post_message(ViewReady(index, view, cursor, choices))

    @on(ViewReady)
    def view_ready(self, message: ViewReady) -> None:
        if message.index.run_id != self.session.run_id:
            return
        self.index, self.view = message.index, message.view
        self.wanted = message.view.query
        workspace = self.betr.workspace
        index, view = message.index, message.view
        doclist = self.doclist
        if message.choices is not None:
            self.choices[index.corpus_id] = message.choices
            shown = [c.name for c in message.choices if c.shown]
            if shown != doclist.columns:
                doclist.columns = shown
                doclist._layouts.clear()

        def loader(start: int, count: int) -> list[DocRow]:
            with reading(workspace) as conn:
                rows: list[DocRow] = page(conn, index, view, start, count, list(doclist.columns))
            return rows

        self.doclist.set_view(
            index, view, loader, message.cursor, self.session.first_rows(index, view.query)
        )
        colour = self.app.get_css_variables().get("text-warning")
        self.query_one("#docs-info", Static).update(
            flag_warning_lines(info_line(index, view), colour)
        )

    @on(RowHighlighted)
    @on(RowsLoaded)
    def show_row_detail(self) -> None:
        """The cursor row's source, benchmark and exact numbers under the list (a narrow list
        drops those columns; a wide one cuts long sources)."""
        doclist = self.doclist
        if len(doclist) or doclist.view is None:
            detail = row_detail(doclist.row_at(doclist.cursor)) if len(doclist) else ""
        else:
            detail = empty_view_text(doclist.view.query)
        self.query_one("#docs-row", Static).update(detail)

    @on(ViewFailed)
    def view_failed(self) -> None:
        if self.view is not None:
            self.wanted = self.view.query  # the bad query is not kept

    # -- actions -------------------------------------------------------------------------------
    def ready(self) -> bool:
        if self.view is None or self.index is None:
            self.notify("no run loaded yet", severity="warning")
            return False
        return True

    def column_choices(self) -> list[ColumnChoice]:
        """The current corpus's columns (read with its first view), rank first."""
        assert self.index is not None
        rank = column("rank")
        return [
            ColumnChoice("rank", rank.title, rank.kind, rank.summary, True),
            *self.choices.get(self.index.corpus_id, []),
        ]

    def sort_by(self, name: str) -> None:
        """Sort by column `name`: its own first direction, or the other way when it is the
        sort already."""
        current, descending = parse_sort(self.wanted.sort)
        descending = not descending if current.name == name else column(name).descending
        self.request(replace(self.wanted, sort=sort_spec(name, descending)))

    def action_sort_column(self) -> None:
        if not self.ready():
            return
        current = parse_sort(self.wanted.sort)[0].name

        def chosen(name: str | None) -> None:
            if name is not None:
                self.sort_by(name)

        self.app.push_screen(
            ColumnPicker(
                "Sort by",
                "enter sorts by the column; the current one (highlighted) flips direction",
                self.column_choices(),
                current,
            ),
            chosen,
        )

    def action_reverse_sort(self) -> None:
        col, descending = parse_sort(self.wanted.sort)
        self.request(replace(self.wanted, sort=sort_spec(col.name, not descending)))

    @on(HeaderClicked)
    def header_clicked(self, message: HeaderClicked) -> None:
        if self.ready():
            self.sort_by(message.column)

    @property
    def frequency(self) -> FrequencyPanel:
        return self.query_one(FrequencyPanel)

    def action_frequency_table(self) -> None:
        """The frequency table of the sort column (when it has one, else the benchmark), with
        every other column a keystroke away in it; it takes the list's place until closed."""
        if not self.ready():
            return
        assert self.index is not None and self.view is not None  # ready() said so
        choices = [c for c in self.column_choices() if column(c.name).frequency]
        current = parse_sort(self.wanted.sort)[0].name
        if current not in [c.name for c in choices]:
            current = "benchmark"
        self.doclist.display = False
        self.query_one("#docs-row").display = False
        self.frequency.open(self.index, self.view, current, choices)

    @on(FrequencyPicked)
    def frequency_closed(self, message: FrequencyPicked) -> None:
        self.doclist.display = True
        self.query_one("#docs-row").display = True
        self.doclist.focus()
        if message.where is not None:
            self.request(replace(self.wanted, where=(*self.wanted.where, message.where)))

    def action_choose_columns(self) -> None:
        if not self.ready():
            return
        assert self.index is not None  # ready() said so
        corpus_id = self.index.corpus_id

        def chosen(names: list[str] | None) -> None:
            if names is None:
                return
            try:
                names = choose_columns(self.betr.workspace, corpus_id, names)
            except BetrError as exc:
                self.betr.report_error(str(exc))
                return
            choices = self.choices.get(corpus_id, [])
            by_name = {c.name: c for c in choices}
            self.choices[corpus_id] = [replace(by_name[n], shown=True) for n in names] + [
                replace(c, shown=False) for c in choices if c.name not in names
            ]
            self.doclist.set_columns(names)

        self.app.push_screen(
            ColumnsDialog(self.index.corpus, self.choices.get(corpus_id, [])), chosen
        )

    def action_cycle_benchmark(self) -> None:
        if not self.ready():
            return
        assert self.index is not None and self.view is not None  # ready() said so
        names = [None, *sorted(self.index.benchmarks.values())]
        at = names.index(self.wanted.benchmark) if self.wanted.benchmark in names else 0
        self.request(replace(self.wanted, benchmark=names[(at + 1) % len(names)]))

    def action_cycle_kept(self) -> None:
        states = [None, "kept", "dropped"]
        at = states.index(self.wanted.kept) if self.wanted.kept in states else 0
        self.request(replace(self.wanted, kept=states[(at + 1) % len(states)]))

    def action_toggle_contaminated(self) -> None:
        """Only the docs that share an n-gram with a benchmark example, by the run's newest
        contamination check (an error saying how to run one when there is none)."""
        self.request(replace(self.wanted, contaminated=not self.wanted.contaminated))

    def action_clear_filters(self) -> None:
        self.request(Query(sort=self.wanted.sort))

    def action_filter_docs(self) -> None:
        def chosen(query: Query | None) -> None:
            if query is not None:
                self.request(query)

        self.app.push_screen(FilterDialog(self.wanted), chosen)

    def action_search_docs(self) -> None:
        def chosen(text: str | None) -> None:
            if text is not None:
                self.request(replace(self.wanted, search=text or None))

        self.app.push_screen(
            PromptDialog(
                "Search the text",
                'plain words, or an FTS5 query ("exact phrase", a OR b, pre*); empty clears',
                self.wanted.search or "",
            ),
            chosen,
        )

    def action_jump_rank(self) -> None:
        if not self.ready():
            return
        assert self.index is not None and self.view is not None  # ready() said so

        def chosen(text: str | None) -> None:
            if text:
                self.jump_to_rank(text)

        self.app.push_screen(
            PromptDialog("Jump to rank", f"a probability rank, 1 to {len(self.index):,}"), chosen
        )

    def jump_to_rank(self, text: str) -> None:
        if not self.ready():
            return
        assert self.index is not None and self.view is not None  # ready() said so
        try:
            rank = int(text.replace(",", "").replace("_", ""))
        except ValueError:
            self.notify(f"not a rank: '{text}'", severity="warning", markup=False)
            return
        if not 1 <= rank <= len(self.index):
            self.notify(
                f"rank {rank:,} is out of range: the run has {len(self.index):,} docs",
                severity="warning",
            )
            return
        row = self.view.find_rank(rank)
        if row is None:
            self.notify(
                f"rank {rank:,} is filtered out of this view ({self.view.query.describe()}); "
                "c clears the filters",
                severity="warning",
                markup=False,
            )
            return
        self.doclist.move_cursor(row)

    def action_cursor_top(self) -> None:
        self.doclist.action_cursor_top()

    def action_cursor_bottom(self) -> None:
        self.doclist.action_cursor_bottom()

    def action_open_doc(self) -> None:
        if not self.ready():
            return
        assert self.index is not None and self.view is not None  # ready() said so
        if not len(self.view):
            return

        def closed(row: int | None) -> None:
            if row is not None:
                self.doclist.move_cursor(row)

        viewer = DocViewerScreen(self.index, self.view, self.doclist.cursor)
        self.app.push_screen(viewer, closed)

    def action_export_view(self, fmt: str = "jsonl") -> None:
        if not self.ready():
            return
        assert self.index is not None and self.view is not None  # ready() said so
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = self.betr.workspace.exports_dir / f"docs-run{self.index.run_id}-{stamp}.{fmt}"
        if self.index.classifier_warning:  # said before anything is written
            self.notify(
                f"run {self.index.run_id}: {self.index.classifier_warning}",
                title="exporting a degenerate classifier's ranking",
                severity="warning",
                timeout=15,
                markup=False,
            )
        self.export_worker(self.index, self.view, out)

    def action_export_view_parquet(self) -> None:
        self.action_export_view("parquet")

    @work(thread=True, exclusive=True, exit_on_error=False, group="documents-export")
    def export_worker(self, index: RunIndex, view: View, out: Path) -> None:
        with reading(self.betr.workspace) as conn:
            done = export_view(conn, index, view, out)
        self.post_message(Exported(out, done.rows))

    @on(Exported)
    def exported(self, message: Exported) -> None:
        self.notify(
            f"exported {message.rows:,} docs ({abbreviate(message.rows)}) to {message.path}",
            markup=False,
        )
