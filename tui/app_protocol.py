"""What screens and widgets use of the App, as a Protocol (`tui.app.BetrApp` satisfies it).

Screens are typed against this, not against `BetrApp`: `tui.app` imports the screens (its modes,
the help screen), so a screen that imported `tui.app`, even only for a type, would close an
import circle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from engine.api.jobs import JobInfo
    from engine.config import UserConfig
    from engine.workspace import Workspace
    from tui.polling import Poller
    from tui.session import Session


@runtime_checkable
class AppServices(Protocol):
    workspace: Workspace
    config: UserConfig
    session: Session  # the selection every screen follows
    jobs: list[JobInfo]  # the job list, polled twice a second (a reactive: watch it)
    jobs_poll: Poller  # `now()` reads the job list at once (after launching a job)
    user_keymap: dict[str, str]  # the config's [keymap]: action name -> keys

    def report_error(self, message: str) -> None:
        """Show an error (a notification and the status line), never a traceback."""

    def open_jobs(self, select_job: int | None = None) -> None:
        """Switch to the Jobs screen, optionally with a job selected."""
