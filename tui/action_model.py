"""What an action is (shared by `tui.actions` and the per-screen action lists it gathers)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

GLOBAL = "global"


@dataclass(frozen=True)
class Action:
    name: str  # binding id, keymap name, and the `action_<name>` method
    long_name: str  # what the command palette lists and searches
    keys: str  # default key(s), comma separated; "" for palette-only actions
    scope: str  # GLOBAL or the SCOPE of a screen ("workspace", "jobs", "log", "dialog")
    description: str  # one line for the help screen
    label: str = ""  # short footer label; "" keeps the action out of the footer
    priority: bool = False

    def binding(self, keys: str | None = None) -> Binding:
        return Binding(
            keys or self.keys,
            self.name,
            self.label or self.long_name,
            show=bool(self.label) and self.name != "command_palette",
            priority=self.priority,
            tooltip=self.description,
            id=self.name,
        )
