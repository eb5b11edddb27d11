"""`n` on the rBridge screen: the `betr proxy train` form, submitted as a detached job.

Dismissed with the new job's id, or None when closed. A bad field (an unknown corpus, a count
that is not a number, too few tokens for one batch) is shown in the form, which stays open.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from engine.api import jobs as api_jobs
from engine.api.proxies import parse_count
from engine.errors import UsageError
from tui.action_model import bindings
from tui.screens.base import DIALOG, DIALOG_ACTIONS
from tui.screens.job_form import JobFormScreen


class TrainProxyDialog(JobFormScreen):
    BINDINGS = bindings(DIALOG_ACTIONS, DIALOG)
    PREFIX = "train"

    def __init__(self, corpus: str | None = None):
        super().__init__()
        self.corpus = corpus

    def compose(self) -> ComposeResult:
        with Vertical(id="rb-train-dialog", classes="doc-dialog") as dialog:
            dialog.border_title = "Train a tiny proxy (betr proxy train)"
            yield Label("Corpus", markup=False)
            yield Input(self.corpus or "", placeholder="a ready corpus", id="train-corpus")
            with Horizontal(classes="import-fields"):
                with Vertical():
                    yield Label("Parameters", markup=False)
                    yield Input("2M", id="train-params")
                with Vertical():
                    yield Label("Training tokens", markup=False)
                    yield Input("5M", id="train-tokens")
                with Vertical():
                    yield Label("Checkpoints", markup=False)
                    yield Input("4", id="train-checkpoints")
            yield Label(
                "Tokenizer: neox (GPT-NeoX) or train:VOCAB (a BPE trained on the corpus)",
                markup=False,
            )
            yield Input("train:4096", id="train-tokenizer")
            yield Static("", id="train-error", markup=False)
            with Horizontal(classes="doc-dialog-buttons"):
                yield Button("Train", variant="primary", id="train-submit")
                yield Button("Cancel", id="train-cancel")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#train-corpus", Input).focus()

    def form(self) -> dict[str, Any]:
        """The arguments of `engine.api.proxies.train_spec` (UsageError on a bad number)."""

        def value(widget_id: str) -> str:
            return self.query_one(widget_id, Input).value.strip()

        checkpoints = value("#train-checkpoints")
        if not checkpoints.isdigit():
            raise UsageError(f"checkpoints must be a whole number, got '{checkpoints}'")
        return dict(
            corpus=value("#train-corpus"),
            params=parse_count(value("#train-params"), "params"),
            tokens=parse_count(value("#train-tokens"), "tokens"),
            checkpoints=int(checkpoints),
            tokenizer=value("#train-tokenizer") or "neox",
        )

    def start_job(self, form: dict[str, Any]) -> int:
        from engine.api.proxies import train_spec

        workspace = self.betr.workspace
        spec = train_spec(workspace, **form)  # the spec checks itself
        title = f"train proxy {spec.dataset} ({form['params']:,} params)"
        return api_jobs.start(workspace, spec, title=title)
