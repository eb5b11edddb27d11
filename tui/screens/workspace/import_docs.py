"""`i` on the Workspace screen: the `betr import docs` form, submitted as a detached job."""

from __future__ import annotations

import re
from typing import TypedDict

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Static

from engine.api.imports import import_docs_spec
from engine.api.jobs import start
from tui.action_model import bindings
from tui.screens.base import DIALOG, DIALOG_ACTIONS
from tui.screens.job_form import JobFormScreen

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


class ImportDocsScreen(JobFormScreen):
    """Dismissed with the new job's id, or None when closed."""

    BINDINGS = bindings(DIALOG_ACTIONS, DIALOG)
    PREFIX = "import"

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
        super().on_mount()
        self.query_one("#import-paths", Input).focus()

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

    def start_job(self, form: ImportForm) -> int:
        workspace = self.betr.workspace
        return start(workspace, import_docs_spec(workspace, **form))
