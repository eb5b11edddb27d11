"""A yes/no question before something that stops work (cancelling a job): `y` or enter says
yes, `n` or escape says no; dismissed with True or False."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from tui.action_model import Action, bindings
from tui.safe_text import plain
from tui.screens.base import BetrModal

CONFIRM = "confirm"
CONFIRM_ACTIONS: tuple[Action, ...] = (
    Action("confirm_yes", "answer yes", "y,enter", CONFIRM, "yes: do it", "Yes", priority=True),
    Action("confirm_no", "answer no", "n,escape", CONFIRM, "no: leave it as it is", "No", True),
)


class ConfirmDialog(BetrModal[bool]):
    SCOPE = CONFIRM
    BINDINGS = bindings(CONFIRM_ACTIONS, CONFIRM)

    def __init__(self, title: str, question: str, yes: str, no: str):
        super().__init__()
        self.title_text, self.question, self.yes, self.no = title, question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="doc-dialog", id="confirm-dialog") as dialog:
            dialog.border_title = plain(self.title_text, lines=False)
            yield Static(plain(self.question), id="confirm-question", markup=False)
            with Horizontal(classes="doc-dialog-buttons"):
                yield Button(plain(f"y  {self.yes}"), variant="error", id="confirm-yes")
                yield Button(plain(f"n  {self.no}"), id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def action_confirm_yes(self) -> None:
        self.dismiss(True)

    def action_confirm_no(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")
