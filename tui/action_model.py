"""What an action is, and the bindings made of a list of them (the registry, `tui.actions`,
gathers every list; each screen package keeps its own in its `actions` module)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.binding import Binding, BindingType

if TYPE_CHECKING:
    from textual.app import App

GLOBAL = "global"
HelpRow = tuple[str, str, str]  # a help line: (keys as displayed, long name, description)


@dataclass(frozen=True)
class Action:
    name: str  # binding id and keymap name; the `action_<name>` method unless `action` says
    long_name: str  # what the command palette lists and searches
    keys: str  # default key(s), comma separated; "" for palette-only actions
    scope: str  # GLOBAL, the SCOPE of a screen ("workspace", "jobs", "log", "dialog"), or of
    # a widget with keys of its own while it has the focus ("heatmap", "doc_list")
    description: str  # one line for the help screen
    label: str = ""  # short footer label; "" keeps the action out of the footer
    priority: bool = False
    action: str = ""  # what the binding runs when not `name` ("move(0,-1)"): widget actions

    def binding(self, keys: str | None = None) -> Binding:
        return Binding(
            keys or self.keys,
            self.action or self.name,
            self.label or self.long_name,
            show=bool(self.label) and self.name != "command_palette",
            priority=self.priority,
            tooltip=self.description,
            id=self.name,
        )


def bindings(actions: Iterable[Action], scope: str) -> list[BindingType]:
    """The BINDINGS of the App (scope GLOBAL), a screen or a widget: `scope`'s actions with keys."""
    return [a.binding() for a in actions if a.scope == scope and a.keys]


def effective_keys(action: Action, keymap: dict[str, str]) -> list[str]:
    """The keys an action answers to once the user's `[keymap]` is applied."""
    keys = keymap.get(action.name, action.keys)
    return [k.strip() for k in keys.split(",") if k.strip()]


def key_hint(app: App[Any], action: Action, keymap: dict[str, str]) -> str:
    """The effective keys as the footer shows them ("^s", "?")."""
    return " ".join(app.get_key_display(Binding(k, "")) for k in effective_keys(action, keymap))
