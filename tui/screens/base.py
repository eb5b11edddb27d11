"""What every betr screen shares: header, status bar, footer, the session, and workers that
report to the App; and what every dialog shares (escape closes it: the "dialog" actions)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from textual.app import ComposeResult
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header

from tui.action_model import Action
from tui.widgets.status import StatusBar
from tui.workers import WorkersReportToApp

if TYPE_CHECKING:
    from tui.app_protocol import AppServices
    from tui.session import Session


DIALOG = "dialog"
DIALOG_ACTIONS: tuple[Action, ...] = (
    Action(
        "close_dialog",
        "close this dialog",
        "escape",
        DIALOG,
        "close without doing anything",
        "Close",
    ),
)


class BetrScreen(WorkersReportToApp, Screen[Any]):
    SCOPE = "global"
    # the scopes of the widgets on this screen with keys of their own (help lists them too)
    WIDGET_SCOPES: ClassVar[tuple[str, ...]] = ()

    @property
    def betr(self) -> AppServices:
        """The App, as what screens use of it (`tui.app_protocol`)."""
        return cast("AppServices", self.app)  # the App is a tui.app.BetrApp

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
    SCOPE = DIALOG

    @property
    def betr(self) -> AppServices:
        """The App, as what screens use of it (`tui.app_protocol`)."""
        return cast("AppServices", self.app)  # the App is a tui.app.BetrApp

    def action_close_dialog(self) -> None:
        self.dismiss(None)
