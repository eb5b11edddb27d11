"""`i` on the Workspace screen: the `betr import docs` form, submitted as a detached job."""

from __future__ import annotations

import re
from typing import TypedDict

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Static

from engine.api.imports import import_docs_spec
from engine.api.jobs import start
from engine.errors import BetrError
from tui.action_model import bindings
from tui.screens.base import DIALOG, DIALOG_ACTIONS, BetrModal
from tui.screens.messages import JobStarted, StartRejected

SEPARATORS = re.compile(r"[\s,]+")


def split_list(text: str) -> list[str]:
    """ "a.jsonl, b.jsonl c.jsonl" -> three items (paths with spaces need a glob)."""
    return [part for part in SEPARATORS.split(text.strip()) if part]


class ImportForm(TypedDict):
    """The form's fields, as the arguments of `engine.api.imports.import_docs_spec`."""

    corpus: str
    paths: list[str]
    text_field: str
    id_field: str | None
    meta_fields: list[str]
    skip_bad: bool


class ImportDocsScreen(BetrModal[int | None]):
    """Dismissed with the new job's id, or None when closed."""

    BINDINGS = bindings(DIALOG_ACTIONS, DIALOG)

    def compose(self) -> ComposeResult:
        with Vertical(id="import-dialog") as dialog:
            dialog.border_title = "Import documents into a new corpus"
            yield Label(
                "Files (JSONL, .gz/.zst, Parquet, CSV; separate with spaces or commas)",
                markup=False,
            )
            yield Input(placeholder="data/part-*.jsonl.gz, extra.parquet", id="import-paths")
            yield Label("Corpus name", markup=False)
            yield Input(placeholder="e.g. web-sample", id="import-corpus")
            with Horizontal(classes="import-fields"):
                with Vertical():
                    yield Label("Text field", markup=False)
                    yield Input("text", id="import-text-field")
                with Vertical():
                    yield Label("Id field (optional)", markup=False)
                    yield Input(placeholder="id", id="import-id-field")
                with Vertical():
                    yield Label("Meta fields (optional)", markup=False)
                    yield Input(placeholder="url, source", id="import-meta")
            yield Checkbox(
                "skip bad records (and report them) instead of failing", id="import-skip-bad"
            )
            yield Static("", id="import-error", markup=False)
            with Horizontal(id="import-buttons"):
                yield Button("Import", variant="primary", id="import-submit")
                yield Button("Cancel", id="import-cancel")

    def on_mount(self) -> None:
        self.query_one("#import-paths", Input).focus()
        self.query_one("#import-error").display = False

    def form(self) -> ImportForm:
        """What the form says, as the arguments of `engine.api.imports.import_docs_spec`."""

        def value(widget_id: str) -> str:
            return self.query_one(widget_id, Input).value.strip()

        return ImportForm(
            corpus=value("#import-corpus"),
            paths=split_list(value("#import-paths")),
            text_field=value("#import-text-field") or "text",
            id_field=value("#import-id-field") or None,
            meta_fields=split_list(value("#import-meta")),
            skip_bad=self.query_one("#import-skip-bad", Checkbox).value,
        )

    @on(Input.Submitted)
    @on(Button.Pressed, "#import-submit")
    def submit_form(self) -> None:
        self.query_one("#import-submit", Button).disabled = True
        self.query_one("#import-error").display = False
        self.launch(self.form())

    @on(Button.Pressed, "#import-cancel")
    def cancel_form(self) -> None:
        self.dismiss(None)

    @work(thread=True, exclusive=True, exit_on_error=False, group="import-docs")
    def launch(self, form: ImportForm) -> None:
        try:
            workspace = self.betr.workspace
            job_id = start(workspace, import_docs_spec(workspace, **form))
        except BetrError as exc:
            self.post_message(StartRejected(str(exc)))
            raise  # the App's worker-error handler notifies as well
        except Exception as exc:
            self.post_message(StartRejected(f"internal error: {type(exc).__name__}: {exc}"))
            raise
        self.post_message(JobStarted(job_id))

    @on(JobStarted)
    def job_started(self, message: JobStarted) -> None:
        self.dismiss(message.job_id)

    @on(StartRejected)
    def start_rejected(self, message: StartRejected) -> None:
        error = self.query_one("#import-error", Static)
        error.update(message.error)
        error.display = True
        self.query_one("#import-submit", Button).disabled = False
