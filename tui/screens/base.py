"""What every betr screen shares: header, status bar, footer, and workers that report to the App."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from textual.app import ComposeResult
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header

from tui.widgets.status import StatusBar

if TYPE_CHECKING:
    from tui.app import BetrApp


class WorkersReportToApp:
    """Runs a screen's workers on the App, so that the App's one `Worker.StateChanged`
    handler sees every worker error (the message does not bubble). Worker groups are named
    per screen, so `exclusive=True` still only replaces the screen's own earlier worker."""

    def run_worker(self, work: Any, *args: Any, **kwargs: Any):
        return self.app.run_worker(work, *args, **kwargs)  # type: ignore[attr-defined]


class BetrScreen(WorkersReportToApp, Screen):
    SCOPE = "global"

    @property
    def betr(self) -> BetrApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        yield from self.compose_body()
        yield StatusBar()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()


ResultType = TypeVar("ResultType")


class BetrModal(WorkersReportToApp, ModalScreen[ResultType]):
    SCOPE = "dialog"

    @property
    def betr(self) -> BetrApp:
        return self.app  # type: ignore[return-value]

    def action_close_dialog(self) -> None:
        self.dismiss(None)
