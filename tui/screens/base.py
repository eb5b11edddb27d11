"""What every betr screen shares: header, status bar, footer, the session, and workers that
report to the App."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from textual.app import ComposeResult
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header

from tui.widgets.status import StatusBar
from tui.workers import WorkersReportToApp

if TYPE_CHECKING:
    from tui.app import BetrApp
    from tui.session import Session


class BetrScreen(WorkersReportToApp, Screen):
    SCOPE = "global"

    @property
    def betr(self) -> BetrApp:
        return self.app  # type: ignore[return-value]

    @property
    def session(self) -> Session:
        """The selection every screen follows (current corpus, run, keep rate)."""
        return self.betr.session

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
