"""What every tab of a screen shares: a tab is one module (a `ScreenTab` subclass) plus one line
in its screen's tab list.

A tab owns its content: what it depends on (`wanted()`: a key compared by value), the read that
computes it (`read(key)`, run in a thread worker), its drawing (`show(answer)`), its empty state
(`show_empty(text)`, also what it says while reading, `loading_text(key)`, and after an error,
`show_error`: the `EMPTY` Static shows the text in place of the `CONTENT`), its exports (`export_rows` for `e`,
`export_svg` for `p`) and where the keys go when it opens (`focus_content`).

`refresh_content()` reads only when the key changed since the last read asked (or nothing is
shown yet); an answer for any key but the last one asked is dropped (the user has moved on),
and an error (`BetrError`) becomes the tab's text and a notification, never a crash. The class
is not called `Tab`: a Textual widget's class names are its CSS types, and `Tab` is Textual's
own tab label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar, cast

from textual import on
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from engine.errors import BetrError
from tui.app_protocol import AppServices
from tui.exports import export_path, write_csv, write_text
from tui.hooks import require_hooks
from tui.widgets.tables import ExportTable
from tui.workers import WorkersReportToApp

Key = TypeVar("Key")
Answer = TypeVar("Answer")
Rows = tuple[str, list[str], list[list[Any]]]  # (file stem, header, raw rows)


class NothingToExport(Exception):
    """What the user is told instead (a warning): the tab shows no table, or no plot."""


@dataclass
class Answered(Message, bubble=False):
    """A tab's read finished: its `answer`, or the `error` that stopped it, for `key`."""

    key: Any
    answer: Any = None
    error: BetrError | None = None


class ScreenTab(WorkersReportToApp, Vertical, Generic[Key, Answer]):
    TITLE: ClassVar[str] = ""  # the tab's label
    NAME: ClassVar[str] = ""  # its answer's name (the screen's `results`), its worker group
    LOADING: ClassVar[str] = "reading…"  # said while the read runs
    EXPORT_PREFIX: ClassVar[str] = "tab"  # exports/<prefix>-<stem>-<time>.csv|svg
    EMPTY: ClassVar[str] = ""  # selector of the Static that says why there is no content
    CONTENT: ClassVar[tuple[str, ...]] = ()  # selectors of what it hides while it says so
    # while a new key is read, keep the last answer on screen (the loading text only before
    # the first one): for content that follows a moving value, such as the keep rate
    KEEP_SHOWN: ClassVar[bool] = False

    # -- what a tab defines (methods of each concrete tab; checked when one is built) ----------
    # what the content depends on now (a tab with nothing to read may make `Key` an Optional
    # and say why in `empty_note`)
    wanted: Callable[[], Key]
    # the answer for a key, through `engine.api` (in a thread: never touch a widget)
    read: Callable[[Key], Answer]
    # put an answer on screen
    show: Callable[[Answer], None]

    def __init__(self, **kwargs: Any):
        require_hooks(self, ("wanted", "read", "show"))
        super().__init__(**kwargs)
        self.asked: Key | None = None  # the key of the last read asked for
        self.answer: Answer | None = None  # the last answer shown

    @property
    def services(self) -> AppServices:
        return cast(AppServices, self.app)

    # -- what a tab may change ------------------------------------------------------------------
    def empty_note(self, key: Key) -> str | None:
        """Why there is nothing to read for `key` (an empty state, not an error), else None."""
        return None

    def loading_text(self, key: Key) -> str:
        """What the tab says while `read(key)` runs."""
        return self.LOADING

    def show_error(self, error: BetrError) -> None:
        """A read failed: the error becomes the tab's text and a notification."""
        self.show_empty(str(error))
        self.services.report_error(str(error))

    def show_empty(self, text: str) -> None:
        """Show `text` instead of the content ("" shows the content)."""
        empty = self.query_one(self.EMPTY, Static)
        empty.update(text)
        empty.display = bool(text)
        for part in self.CONTENT:
            self.query_one(part).display = not text

    @property
    def result(self) -> Any:
        """The result the screen reports for this tab (`AnalysisScreen.results`)."""
        return self.answer

    def main_rows(self) -> Rows | None:
        """What `e` writes when no table has the focus, before the tab's first table."""
        return None

    def export_svg(self) -> tuple[str, str]:
        """(file stem, SVG) of the tab's plot; NothingToExport says why there is none."""
        raise NothingToExport("no plot shown on this tab")

    def focus_content(self) -> None:
        """The tab was opened: where the keys go (they stay where they are by default)."""

    # -- reading -------------------------------------------------------------------------------
    def refresh_content(self) -> None:
        key = self.wanted()
        if key == self.asked and self.answer is not None:
            return
        self.asked = key
        note = self.empty_note(key)
        if note is not None:
            self.answer = None
            self.show_empty(note)
            return
        if not (self.KEEP_SHOWN and self.answer is not None):
            self.show_empty(self.loading_text(key))
        self.run_worker(
            partial(self._read, key),
            name=f"read {self.NAME}",
            group=f"tab-{self.NAME}",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def forget(self) -> None:
        """Read again on the next `refresh_content`, even for the same key."""
        self.asked = None

    def clear(self) -> None:
        """Nothing shown, nothing asked (an answer still on its way is dropped)."""
        self.asked = None
        self.answer = None

    def _read(self, key: Key) -> None:
        try:
            answer = self.read(key)
        except BetrError as exc:
            self.post_message(Answered(key, error=exc))
            return
        self.post_message(Answered(key, answer))

    @on(Answered)
    def answered(self, message: Answered) -> None:
        message.stop()
        if message.key != self.asked:
            return  # read for a selection the user has left
        if message.error is not None:
            self.show_error(message.error)
            return
        self.answer = message.answer
        self.show(message.answer)

    # -- exports -------------------------------------------------------------------------------
    def export_rows(self, focused: Widget | None) -> Rows:
        """The focused table of this tab, else `main_rows()`, else its first table."""
        tables = [t for t in self.query(ExportTable) if t.display and t.has_rows]
        if isinstance(focused, ExportTable) and focused in tables:
            return focused.rows_to_export()
        main = self.main_rows()
        if main is not None:
            return main
        if tables:
            return tables[0].rows_to_export()
        raise NothingToExport("no table to export on this tab")

    def save_table(self) -> None:
        """`e`: the table in focus (or the tab's main one) to <workspace>/exports/*.csv."""
        try:
            stem, header, rows = self.export_rows(self.screen.focused)
        except NothingToExport as exc:
            self.notify(str(exc), severity="warning")
            return
        path = export_path(self.services.workspace.exports_dir, self.EXPORT_PREFIX, stem, "csv")
        try:
            write_csv(path, header, rows)
        except OSError as exc:
            self.services.report_error(f"cannot write {path}: {exc}")
            return
        self.notify(f"table saved: {path} ({len(rows)} rows)", markup=False)

    def save_plot(self) -> None:
        """`p`: the tab's plot to <workspace>/exports/*.svg."""
        try:
            stem, svg = self.export_svg()
        except NothingToExport as exc:
            self.notify(str(exc), severity="warning")
            return
        path = export_path(self.services.workspace.exports_dir, self.EXPORT_PREFIX, stem, "svg")
        try:
            write_text(path, svg)
        except OSError as exc:
            self.services.report_error(f"cannot write {path}: {exc}")
            return
        self.notify(f"plot saved: {path}", markup=False)
