"""`?`: every key of the current screen (its own, its widgets') and the global keys, as the App
hands them over from the registries (`tui.actions.help_sections`)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from tui.action_model import HelpRow, bindings
from tui.screens.base import DIALOG, DIALOG_ACTIONS, BetrModal

KEY_WIDTH = 8
MIN_DESCRIPTION = 30  # cells: below this the descriptions go under the action names


class HelpScreen(BetrModal[None]):
    BINDINGS = bindings(DIALOG_ACTIONS, DIALOG)

    def __init__(self, sections: list[tuple[str, list[HelpRow]]]):
        """`sections`: (title, rows) for each scope: the screen's first, the global keys last."""
        super().__init__()
        self.sections = sections

    @property
    def rows(self) -> list[HelpRow]:
        return [row for _title, rows in self.sections for row in rows]

    def plain_text(self) -> str:
        return "\n".join(
            f"{title}\n" + "\n".join(f"  {k:8} {n} — {d}" for k, n, d in rows)
            for title, rows in self.sections
        )

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog") as dialog:
            dialog.border_title = "Keys"
            dialog.border_subtitle = "escape closes · ctrl+p lists every action by name"
            with VerticalScroll():
                width = max(len(name) for _keys, name, _d in self.rows)
                for title, rows in self.sections:
                    yield Static(KeyTable(title, rows, width), classes="help-section", markup=False)


@dataclass(frozen=True)
class KeyTable:
    """One section, laid out for the width it gets: key, action and description side by side
    where they fit, else each description under its action (nothing cut on 80 columns)."""

    title: str
    rows: list[HelpRow]
    name_width: int  # the longest action name of every section, so they line up

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        wide = options.max_width >= KEY_WIDTH + self.name_width + MIN_DESCRIPTION + 4
        if wide:
            yield key_table(self.title, self.rows, self.name_width)
        else:
            yield stacked_key_table(self.title, self.rows)


def section_table(title: str) -> Table:
    """A titled, borderless table whose first column is the key."""
    table = Table(
        title=Text(title, style="bold"),
        title_justify="left",
        box=None,
        show_header=False,
        expand=True,
        padding=(0, 1),
    )
    table.add_column("key", width=KEY_WIDTH, no_wrap=True)
    return table


def stacked_key_table(title: str, rows: list[HelpRow]) -> Table:
    """Narrow: the key, then the action's name over its description (both wrap)."""
    table = section_table(title)
    table.add_column("action", ratio=1)
    for keys, long_name, description in rows:
        shown = Text(keys, style="bold") if keys else Text("palette", style="dim italic")
        table.add_row(shown, Text.assemble(long_name, "\n", (description, "dim")))
    return table


def key_table(title: str, rows: list[HelpRow], name_width: int) -> Table:
    """One section; every section gets the same column widths, so they line up."""
    table = section_table(title)
    table.add_column("action", width=name_width, no_wrap=True)
    table.add_column("what it does", ratio=1, style="dim")
    for keys, long_name, description in rows:
        shown = Text(keys, style="bold") if keys else Text("palette", style="dim italic")
        table.add_row(shown, long_name, description)
    return table
