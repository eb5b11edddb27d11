"""Workers that report to the App: what every screen, widget and the session share.

A thread worker started on a widget posts its `Worker.StateChanged` to that widget, and the
message does not bubble: the App's one error handler would never see it. `WorkersReportToApp`
runs them on the App instead. Worker groups are named per screen or widget, so
`exclusive=True` still only replaces that owner's own earlier worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from textual.app import App
    from textual.worker import Worker


class HasApp(Protocol):
    """What a mixin needs of the class it is mixed into (every DOMNode has it)."""

    @property
    def app(self) -> App[Any]: ...


class WorkersReportToApp:
    """Mix into a Screen, Widget or DOMNode: its `@work` methods run as workers of the App."""

    def run_worker(self: HasApp, work: Any, *args: Any, **kwargs: Any) -> Worker[Any]:
        return self.app.run_worker(work, *args, **kwargs)
