"""What the Threshold tabs share: the screen's context (the current run's index once it is
loaded and applied, else why there is none) that they compute their key from with the
session's keep rate, and how they follow it.

A tab reads only while it is shown (`follow(shown=True)`, after the keep rests); a tab not
shown only brings its empty state up to date. While a new keep rate is read the last answer
stays on screen (KEEP_SHOWN). A failed read's error is the tab's text, not a notification, and
the same key is not read again until the key or the run changes (`forget` reads it anyway).
Its exports go to exports/threshold-*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Generic

from engine.api.browse import RunIndex
from engine.errors import BetrError
from tui.screens.tab import Answer, Key, ScreenTab
from tui.session import UsesSession


@dataclass
class ThresholdContext:
    """What the Threshold screen tells its tabs about the current run."""

    index: RunIndex | None = None  # loaded, applied and not empty; else None
    note: str | None = None  # why there is no index (None: no current run)


class ThresholdTab(UsesSession, ScreenTab[Key, Answer], Generic[Key, Answer]):
    WIDGET_ID: ClassVar[str] = ""  # its id (its pane's is th-tab-<NAME>)
    KEEP_SHOWN: ClassVar[bool] = True
    EXPORT_PREFIX: ClassVar[str] = "threshold"

    def __init__(self, context: ThresholdContext, **kwargs: Any):
        super().__init__(**kwargs)
        self.context = context
        self.failed: Key | None = None  # the key whose read failed (its error is shown)

    def opened(self) -> None:
        """The user opened the tab: read what it shows now, and take the keys."""
        self.refresh_content()
        self.focus_content()

    def follow(self, *, shown: bool) -> None:
        """The run or the keep changed: read now if the tab is shown, else only say why there
        is nothing to read, or that it will be read (the read waits until it is shown)."""
        if shown:
            self.refresh_content()
            return
        key = self.wanted()
        note = self.empty_note(key)
        if note is not None:
            self.asked, self.answer = key, None
            self.show_empty(note)
        elif self.answer is None and key != self.failed:
            self.show_empty(self.loading_text(key))

    def refresh_content(self) -> None:
        key = self.wanted()
        if self.failed is not None:
            if key == self.failed:
                return  # read and failed: the error is on screen
            self.failed = None
        super().refresh_content()

    def show_error(self, error: BetrError) -> None:
        self.failed = self.asked
        self.show_empty(str(error))

    def forget(self) -> None:
        super().forget()
        self.failed = None

    def clear(self) -> None:
        super().clear()
        self.failed = None
