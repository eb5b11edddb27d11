"""The document viewer (Enter on the Documents screen): the whole text, why the doc was chosen,
and hand labels (y good, n bad, s skip, backspace clears) compared with the classifier.

The text goes into a read-only TextArea (virtual rendering: a 1 MB doc is fine); everything is
read in thread workers; `]` and `[` walk the Documents view the viewer was opened from.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static, TextArea

from engine.api.browse import (
    NEVER_EMBEDDED,
    DocDetail,
    NearestExamples,
    Query,
    RunIndex,
    View,
    doc_detail,
    nearest_examples,
)
from engine.api.contamination import DocContamination, hits_for_doc
from engine.api.dups import DocDuplicates, doc_duplicates
from engine.api.jobs import JobInfo, start
from engine.api.labels import LabelAgreement, label_agreement, set_label
from engine.api.why import embed_docs_spec
from engine.errors import BetrError
from engine.units import format_number
from tui.action_model import bindings
from tui.reads import reading
from tui.safe_text import one_line, plain, visible_data
from tui.screens.base import BetrScreen
from tui.screens.documents.actions import ACTIONS, VIEWER
from tui.screens.documents.doclist import bench_style
from tui.screens.documents.messages import (
    DocContaminationRead,
    DocDetailRead,
    EmbedStarted,
    Labelled,
    NearestRead,
)
from tui.screens.documents.viewer_contamination import (
    contamination_note,
    contamination_pane,
    span_location,
)
from tui.screens.documents.viewer_dups import (
    DocDuplicatesRead,
    duplicates_pane,
    members_view,
)

QUESTION_CHARS = 600
NEAREST_K = 5
LONG_LINE = 2000  # longer lines are broken for display (a TextArea crawls on a 1 MB line)


def display_text(text: str, limit: int = LONG_LINE) -> tuple[str, bool]:
    """The text with lines over `limit` chars broken (at a space when there is one: the space
    becomes the line break); and whether any line was broken."""
    lines = text.split("\n")
    if max(map(len, lines)) <= limit:
        return text, False
    out: list[str] = []
    for line in lines:
        start = 0
        while len(line) - start > limit:
            cut = line.rfind(" ", start + limit // 2, start + limit)
            if cut < 0:
                out.append(line[start : start + limit])
                start += limit
            else:
                out.append(line[start:cut])
                start = cut + 1
        out.append(line[start:])
    return "\n".join(out), True


def keep_text(query: Query) -> str:
    """ "keep 10% of tokens"."""
    return f"keep {query.keep * 100:g}% of {query.by}"


def fmt(value: float | None, digits: int = 4) -> str:
    return format_number(value, digits)


def agreement_text(agree: LabelAgreement, view: View) -> str:
    """ "labels: 3 good, 1 bad, 0 skip · classifier agrees on 3 of 4 (75%) at keep 10% of
    tokens"."""
    head = f"labels: {agree.good} good, {agree.bad} bad, {agree.skip} skip"
    judged = agree.good + agree.bad
    if view.cut is None:
        return f"{head} · no classifier yet (the run is not applied)"
    if not judged:
        return f"{head} · no good or bad labels to compare with the classifier yet"
    assert agree.agreement is not None  # a cut and a judged doc
    share = agree.agreement * 100
    return (
        f"{head} · classifier agrees on {agree.agree} of {judged} ({share:.0f}%) "
        f"at {keep_text(view.query)}"
    )


class DocViewerScreen(BetrScreen):
    """Dismissed with the view row it ended on (the list moves its cursor there)."""

    SCOPE = VIEWER
    TITLE = "Document"
    BINDINGS = bindings(ACTIONS, VIEWER)

    def __init__(self, index: RunIndex, view: View, row: int):
        super().__init__()
        self.index, self.view, self.row = index, view, row
        self.detail: DocDetail | None = None
        self.nearest: NearestExamples | None = None
        self.broken_lines = False
        self.embedding: dict[int, int] = {}  # doc id -> the embed-docs job embedding it
        self.contamination: DocContamination | None = None
        self.overlap = -1  # the overlap selected in the text (o), -1: none
        self.duplicates: DocDuplicates | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="viewer-heading", markup=False)
        with Horizontal(id="viewer-panes"):
            yield TextArea(
                "", read_only=True, soft_wrap=True, show_line_numbers=False, id="viewer-text"
            )
            with VerticalScroll(id="viewer-side"):
                yield Static("", id="viewer-contamination", markup=False)
                yield Static("", id="viewer-dups", markup=False)
                yield Static("", id="viewer-why", markup=False)
                yield Static("", id="viewer-nearest", markup=False)
                yield Static("", id="viewer-fields", markup=False)
                yield Static("", id="viewer-contamination-note", markup=False)
        yield Static("", id="viewer-agreement", markup=False)

    def on_mount(self) -> None:
        self.query_one("#viewer-text", TextArea).focus()
        self.load(self.row)
        self.watch(self.app, "jobs", self.jobs_changed, init=False)

    # -- loading -------------------------------------------------------------------------------
    def doc_id_of(self, row: int) -> int:
        return int(self.index.doc_id[self.view.rows[row]])

    def load(self, row: int) -> None:
        self.row = row
        self.detail = self.nearest = self.contamination = self.duplicates = None
        self.query_one("#viewer-dups", Static).update("")
        self.overlap = -1
        self.query_one("#viewer-contamination", Static).update("")
        self.query_one("#viewer-contamination-note", Static).update("")
        self.query_one("#viewer-heading", Static).update(
            f"row {row + 1:,} of {len(self.view):,} in the view · loading…"
        )
        self.query_one("#viewer-nearest", Static).update(Text("nearest examples: loading…"))
        doc_id = self.doc_id_of(row)
        self.load_detail(row, doc_id)
        self.load_nearest(doc_id)
        self.load_contamination(doc_id)
        self.load_duplicates(doc_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="viewer-dups")
    def load_duplicates(self, doc_id: int) -> None:
        try:
            with reading(self.betr.workspace) as conn:
                found = visible_data(doc_duplicates(conn, doc_id))
        except BetrError as exc:
            self.post_message(DocDuplicatesRead(doc_id, None, str(exc)))
            return
        self.post_message(DocDuplicatesRead(doc_id, found))

    @on(DocDuplicatesRead)
    def duplicates_read(self, message: DocDuplicatesRead) -> None:
        if message.doc_id != self.doc_id_of(self.row):
            return
        self.duplicates = message.found
        pane = self.query_one("#viewer-dups", Static)
        pane.update(duplicates_pane(message.found) if message.found else str(message.error))

    def action_open_duplicates(self) -> None:
        """Open the doc's duplicates in a viewer of their own (] and [ walk them)."""
        found = self.duplicates
        doc_id = self.doc_id_of(self.row)
        view = None if found is None else members_view(self.index, self.view, doc_id, found)
        if view is None:
            self.notify("this document has no duplicate in the run", severity="warning")
            return
        here = int(np.flatnonzero(self.index.doc_id[view.rows] == doc_id)[0])
        self.app.push_screen(DocViewerScreen(self.index, view, (here + 1) % len(view)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="viewer-contamination")
    def load_contamination(self, doc_id: int) -> None:
        found = hits_for_doc(self.betr.workspace, self.index.run_id, doc_id)
        self.post_message(DocContaminationRead(doc_id, found))

    @on(DocContaminationRead)
    def contamination_read(self, message: DocContaminationRead) -> None:
        if message.doc_id != self.doc_id_of(self.row):
            return
        self.contamination = message.found
        self.show_contamination()

    def show_contamination(self) -> None:
        if self.contamination is None or self.detail is None:
            return  # drawn when both the doc and its overlaps are here
        found = self.contamination
        if not found.hits:
            self.query_one("#viewer-contamination", Static).update("")
            self.query_one("#viewer-contamination-note", Static).update(contamination_note(found))
            return
        pane = contamination_pane(found, self.detail.text, self.app.theme_variables, self.overlap)
        self.query_one("#viewer-contamination", Static).update(pane)
        self.query_one("#viewer-contamination-note", Static).update("")

    def action_next_overlap(self) -> None:
        """Select the next overlapping span in the text (and scroll to it)."""
        from textual.widgets.text_area import Selection

        found = self.contamination
        if found is None or self.detail is None or not found.hits:
            self.notify("no benchmark overlap in this document", severity="warning", timeout=3)
            return
        if self.broken_lines:
            self.notify("long lines are broken for display: see the spans in the pane")
            return
        self.overlap = (self.overlap + 1) % len(found.hits)
        hit = found.hits[self.overlap]
        start, end = span_location(self.detail.text, hit.start, hit.end)
        area = self.query_one("#viewer-text", TextArea)
        area.selection = Selection(start, end)
        area.scroll_cursor_visible(center=True)
        self.show_contamination()

    @work(thread=True, exclusive=True, exit_on_error=False, group="viewer-detail")
    def load_detail(self, row: int, doc_id: int) -> None:
        with reading(self.betr.workspace) as conn:
            detail = visible_data(doc_detail(conn, self.index, doc_id))
            agreement = label_agreement(conn, self.index, self.view.cut)
        self.post_message(DocDetailRead(row, detail, agreement, *display_text(detail.text)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="viewer-nearest")
    def load_nearest(self, doc_id: int) -> None:
        with reading(self.betr.workspace) as conn:
            nearest = visible_data(nearest_examples(conn, self.index, doc_id, k=NEAREST_K))
        self.post_message(NearestRead(doc_id, nearest))

    @on(DocDetailRead)
    def detail_read(self, message: DocDetailRead) -> None:
        if message.row != self.row:
            return
        self.detail = message.detail
        self.query_one("#viewer-text", TextArea).load_text(message.text)
        self.broken_lines = message.broken
        self.show_heading()
        self.show_why()
        self.show_fields()
        self.show_agreement(message.agreement)
        self.show_contamination()

    @on(NearestRead)
    def nearest_read(self, message: NearestRead) -> None:
        if message.doc_id != self.doc_id_of(self.row):
            return
        self.nearest = message.nearest
        self.show_nearest()

    # -- panes ---------------------------------------------------------------------------------
    def show_heading(self) -> None:
        d = self.detail
        assert d is not None  # shown once read
        label = d.label or "none"
        self.query_one("#viewer-heading", Static).update(
            f"row {self.row + 1:,} of {len(self.view):,} in the view · doc {d.doc_id} · "
            f"rank {d.rank:,} of {d.of:,} · p {fmt(d.prob)} · your label: {label}"
            + (f" · lines over {LONG_LINE:,} chars broken for display" if self.broken_lines else "")
        )

    def show_why(self) -> None:
        d = self.detail
        assert d is not None  # shown once read
        variables = self.app.theme_variables
        ex = d.best_example
        if not d.in_sample:
            body = Text("not in the scored sample: no BETR score or best example", style="dim")
        elif ex is None:
            body = Text("no best example recorded", style="dim")
        else:
            body = Text()
            body.append(
                ex["benchmark"],
                style=bench_style(ex["benchmark"], variables, self.session.bench_ids),
            )
            body.append(
                f"  example {ex['ext_id']} · best rank {d.best_rank or '-'} · "
                f"cosine {fmt(d.best_cosine)} · BETR score {fmt(d.score)}\n"
            )
            question = ex["question"] or ex["text"] or ""
            if len(question) > QUESTION_CHARS:
                question = question[:QUESTION_CHARS] + "…"
            body.append(question)
            if ex.get("answer"):
                body.append(f"\nanswer: {ex['answer']}", style="dim")
        title = Text("why it was chosen: its best benchmark example", style="bold")
        self.query_one("#viewer-why", Static).update(Group(title, body, Text("")))

    def show_nearest(self) -> None:
        n = self.nearest
        assert n is not None  # shown once read
        title = Text(f"nearest {NEAREST_K} target examples", style="bold")
        if not n.examples:
            body = Text(n.reason or "none", style="dim")
            doc_id = self.doc_id_of(self.row)
            if doc_id in self.embedding:
                body.append(f"\nembedding it in job {self.embedding[doc_id]} (background)…")
            elif n.reason == NEVER_EMBEDDED:
                body.append(
                    "\npress e to embed it (a background job; cached afterwards) and see the "
                    "examples it is nearest, with the rank it would have had in the sample"
                )
            self.query_one("#viewer-nearest", Static).update(Group(title, body, Text("")))
            return
        variables = self.app.theme_variables
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        table.add_column(ratio=1)
        for e in n.examples:
            rank = "-" if e.rank is None else f"#{e.rank:,}"
            question = (e.question or e.text or "").replace("\n", " ")
            table.add_row(
                Text(
                    e.benchmark,
                    style=bench_style(e.benchmark, variables, self.session.bench_ids),
                ),
                plain(format_number(e.cosine, 4)),
                Text(one_line(f"{rank} · {question[:160]}"), overflow="ellipsis"),
            )
        outside = self.detail is not None and not self.detail.in_sample
        note = Text(
            f"cosine; #rank this doc {'would have had' if outside else 'has'} among the "
            f"{n.sample or 0:,}-doc scored sample",
            style="dim",
        )
        self.query_one("#viewer-nearest", Static).update(Group(title, table, note, Text("")))

    def show_fields(self) -> None:
        d = self.detail
        assert d is not None  # shown once read
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(ratio=1)
        table.add_row("tokens", plain(f"{d.n_tokens:,} tokens"))
        table.add_row("chars", plain(f"{d.n_chars:,} chars"))
        source = plain(d.source, lines=False)
        source.overflow = "fold"  # a long path wraps
        table.add_row("source", source)
        table.add_row("corpus", plain(d.corpus, lines=False))
        table.add_row("ext id", plain(d.ext_id, lines=False))
        if d.meta:
            table.add_row("meta", plain(json.dumps(d.meta, ensure_ascii=False)))
        table.add_row("probability", plain(fmt(d.prob, 6)))
        table.add_row("rank", plain(f"{d.rank:,} of {d.of:,} docs (run {d.run_id})"))
        if d.in_sample:
            cls = {1: "positive", 0: "negative", None: "-"}[d.classifier_label]
            split = d.split or "no split"
            table.add_row("classifier", plain(f"{cls} ({split}) in the scored sample"))
        table.add_row("your label", plain(d.label or "none"))
        self.query_one("#viewer-fields", Static).update(table)

    def show_agreement(self, agreement: LabelAgreement) -> None:
        self.query_one("#viewer-agreement", Static).update(agreement_text(agreement, self.view))

    # -- labels and navigation -----------------------------------------------------------------
    def label(self, label: str | None) -> None:
        if self.detail is None:
            self.notify("the document is still loading", severity="warning")
            return
        self.label_worker(self.detail.doc_id, label, self.detail.prob)

    @work(thread=True, exclusive=True, exit_on_error=False, group="viewer-label")
    def label_worker(self, doc_id: int, label: str | None, prob: float | None) -> None:
        conn = self.betr.workspace.connect()
        try:
            set_label(conn, doc_id, label, run_id=self.index.run_id, prob=prob)
            agreement = label_agreement(conn, self.index, self.view.cut)
        finally:
            conn.close()
        self.post_message(Labelled(doc_id, label, agreement))

    @on(Labelled)
    def labelled(self, message: Labelled) -> None:
        self.show_agreement(message.agreement)
        here = self.detail is not None and self.detail.doc_id == message.doc_id
        if here and self.detail is not None:
            self.detail = replace(self.detail, label=message.label)
            self.show_heading()
            self.show_fields()
        self.notify(f"doc {message.doc_id}: label {message.label or 'cleared'}", timeout=3)
        # as labelling tools do: a label moves on to the next document (config: label_advance)
        advance = getattr(self.betr.config, "label_advance", True)
        if here and message.label is not None and advance and self.row + 1 < len(self.view):
            self.load(self.row + 1)

    def action_label_good(self) -> None:
        self.label("good")

    def action_label_bad(self) -> None:
        self.label("bad")

    def action_label_skip(self) -> None:
        self.label("skip")

    def action_clear_label(self) -> None:
        self.label(None)

    def action_next_doc(self) -> None:
        if self.row + 1 >= len(self.view):
            self.notify("the last document of the view", severity="warning", timeout=3)
            return
        self.load(self.row + 1)

    def action_prev_doc(self) -> None:
        if self.row == 0:
            self.notify("the first document of the view", severity="warning", timeout=3)
            return
        self.load(self.row - 1)

    # -- why this doc, for a doc outside the scored sample -------------------------------------
    def action_embed_doc(self) -> None:
        n, doc_id = self.nearest, self.doc_id_of(self.row)
        if n is None:
            self.notify("the nearest examples are still loading", severity="warning", timeout=3)
        elif doc_id in self.embedding:
            self.notify(f"doc {doc_id} is being embedded (job {self.embedding[doc_id]})")
        elif n.examples:
            self.notify(f"doc {doc_id} is embedded already: its nearest examples are shown")
        elif n.reason != NEVER_EMBEDDED:
            self.notify(f"cannot show nearest examples: {n.reason}", severity="warning")
        else:
            self.start_embed(doc_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="viewer-embed")
    def start_embed(self, doc_id: int) -> None:
        try:
            ws = self.betr.workspace
            job_id = start(ws, embed_docs_spec(ws, self.index.run_id, [doc_id]))
        except BetrError as exc:
            self.post_message(EmbedStarted(doc_id, None, str(exc)))
            return
        self.post_message(EmbedStarted(doc_id, job_id))

    @on(EmbedStarted)
    def embed_started(self, message: EmbedStarted) -> None:
        if message.job_id is None:
            self.betr.report_error(f"cannot embed doc {message.doc_id}: {message.error}")
            return
        self.embedding[message.doc_id] = message.job_id
        if self.nearest is not None and message.doc_id == self.doc_id_of(self.row):
            self.show_nearest()

    def jobs_changed(self, jobs: list[JobInfo]) -> None:
        """An embed job this viewer started finished: show the doc's nearest examples (when
        it is the doc on screen), or why it failed."""
        by_id = {j.id: j for j in jobs}
        for doc_id, job_id in list(self.embedding.items()):
            job = by_id.get(job_id)
            if job is None or job.state in ("queued", "running"):
                continue
            del self.embedding[doc_id]
            if job.state != "done":
                self.betr.report_error(
                    f"embedding doc {doc_id} {job.state}: {job.error or 'see the Jobs screen'}"
                )
            if doc_id == self.doc_id_of(self.row):
                self.load_nearest(doc_id)

    def action_close_viewer(self) -> None:
        self.dismiss(self.row)
