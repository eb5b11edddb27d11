"""A dialog whose form is submitted as a detached job (the import form, the proxy train form).

Dismissed with the new job's id, or None when closed. A subclass names its widgets with
`PREFIX` (`#<prefix>-submit`, `#<prefix>-cancel`, `#<prefix>-error`), reads its fields in
`form()` (a BetrError on a bad field) and starts the job in `start_job(form)`, which runs in a
worker thread. A rejected form (a bad field, an unknown corpus, a name taken) is shown in the
dialog, which stays open, and notified by the app (an internal error too).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

from textual import on
from textual.widgets import Button, Input, Static

from engine.errors import BetrError
from tui.hooks import require_hooks
from tui.screens.base import BetrModal
from tui.screens.messages import JobStarted, StartRejected


class JobFormScreen(BetrModal[int | None]):
    PREFIX: ClassVar[str]
    # what the form's fields say (a BetrError on a bad field)
    form: Callable[[], Any]
    # (in a worker thread) start the job the form describes; its id
    start_job: Callable[[Any], int]

    def __init__(self) -> None:
        require_hooks(self, ("form", "start_job"))
        super().__init__()

    def on_mount(self) -> None:
        self.query_one(f"#{self.PREFIX}-error").display = False

    @on(Input.Submitted)
    def input_submitted(self) -> None:
        self.submit_form()

    @on(Button.Pressed)
    def button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == f"{self.PREFIX}-submit":
            self.submit_form()
        elif event.button.id == f"{self.PREFIX}-cancel":
            self.dismiss(None)

    def submit_form(self) -> None:
        try:
            form = self.form()
        except BetrError as exc:
            self.start_rejected(StartRejected(str(exc)))
            return
        self.query_one(f"#{self.PREFIX}-submit", Button).disabled = True
        self.query_one(f"#{self.PREFIX}-error").display = False
        self.run_worker(
            partial(self.launch, form),
            thread=True,
            exclusive=True,
            exit_on_error=False,
            group=f"{self.PREFIX}-job",
        )

    def launch(self, form: Any) -> None:
        try:
            job_id = self.start_job(form)
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
        error = self.query_one(f"#{self.PREFIX}-error", Static)
        error.update(message.error)
        error.display = True
        self.query_one(f"#{self.PREFIX}-submit", Button).disabled = False
