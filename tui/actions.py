"""The one registry of user actions: it feeds the key bindings, the command palette and help.

Every action is listed once: the global ones below, each screen's in its own package's
`actions` module (gathered through the screen registry, `tui.screen_registry`, with the
`screen_<mode>` actions it makes), the dialogs' in `tui.screens.base`, the yes/no question's
in `tui.screens.confirm`. An action's `name` is at once the binding id (what `[keymap]` in the
config remaps) and, unless it says otherwise, the `action_<name>` method that runs it: on the
App for global actions, on the screen of its scope (or the widget, for a widget's keys)
otherwise. Adding an action to a list adds its key, its
palette entry and its help line.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.action_model import GLOBAL, Action, HelpRow, key_hint
from tui.screen_registry import MAIN_MODES, SCREENS, scope_title
from tui.screens.base import DIALOG_ACTIONS
from tui.screens.confirm import CONFIRM_ACTIONS

if TYPE_CHECKING:
    from textual.app import App


def screen_actions() -> list[Action]:
    """`screen_<mode>` for every main screen of the registry (global: a key switches to it)."""
    return [
        Action(entry.action, entry.long_name, entry.key, GLOBAL, entry.description, entry.label)
        for entry in SCREENS
    ]


GLOBAL_ACTIONS: tuple[Action, ...] = (
    *screen_actions(),
    Action(
        "help", "show the keys of this screen (help)", "question_mark", GLOBAL, "this help", "Help"
    ),
    Action(
        "command_palette",
        "open the command palette",
        "ctrl+p",
        GLOBAL,
        "every action by its long name, searchable",
        "palette",
        priority=True,
    ),
    Action(
        "screenshot",
        "save a screenshot (SVG) to the workspace exports/",
        "ctrl+s",
        GLOBAL,
        "write an SVG of the screen into <workspace>/exports/",
    ),
    Action(
        "change_theme",
        "change the colour theme",
        "",
        GLOBAL,
        "pick a theme for this session (set `theme` in the config to keep it)",
    ),
    Action(
        "quit",
        "quit betr-tui (jobs keep running)",
        "q",
        GLOBAL,
        "quit; detached jobs keep running",
        "Quit",
    ),
)

ACTIONS: tuple[Action, ...] = (
    *GLOBAL_ACTIONS,
    *(action for entry in SCREENS for action in entry.actions),
    *DIALOG_ACTIONS,
    *CONFIRM_ACTIONS,
)

BY_NAME: dict[str, Action] = {a.name: a for a in ACTIONS}


def actions_in(scope: str) -> list[Action]:
    return [a for a in ACTIONS if a.scope == scope]


def unknown_keymap_names(keymap: dict[str, str]) -> list[str]:
    return sorted(name for name in keymap if name not in BY_NAME)


def palette_actions(scope: str) -> Iterable[Action]:
    """Global actions, the main screens' actions, and those of the screen the palette was
    opened on (closing a log makes no sense from the Workspace screen). A widget's keys act on
    the widget with the focus: they are not commands."""
    for action in ACTIONS:
        shown_here = action.scope in (GLOBAL, *MAIN_MODES) or action.scope == scope
        if shown_here and action.name != "command_palette":
            yield action


def help_sections(
    app: App[Any], scopes: Iterable[str], keymap: dict[str, str]
) -> list[tuple[str, list[HelpRow]]]:
    """What `?` shows: for each scope its title and its actions' (keys, long name, description),
    with the keys the user's `[keymap]` gives them."""
    return [
        (
            scope_title(scope),
            [(key_hint(app, a, keymap), a.long_name, a.description) for a in actions_in(scope)],
        )
        for scope in scopes
    ]


class _RunsRegistryActions(Protocol):
    """What the palette needs of the App (`tui.app.BetrApp` has it)."""

    async def run_registry_action(self, name: str) -> None: ...


class ActionsProvider(Provider):
    """The command palette: every registry action by its long name (fuzzy matched)."""

    def _candidates(self) -> list[tuple[Action, str]]:
        app = self.app
        keymap = getattr(app, "user_keymap", {})
        scope = getattr(self.screen, "SCOPE", GLOBAL)
        return [
            (action, f"{key_hint(app, action, keymap) or 'palette only'} · {action.description}")
            for action in palette_actions(scope)
        ]

    def _command(self, action: Action) -> Callable[[], Awaitable[None]]:
        return partial(cast(_RunsRegistryActions, self.app).run_registry_action, action.name)

    async def discover(self) -> Hits:
        for action, help_text in self._candidates():
            yield DiscoveryHit(action.long_name, self._command(action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action, help_text in self._candidates():
            score = matcher.match(action.long_name)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(action.long_name),
                    self._command(action),
                    text=action.long_name,
                    help=help_text,
                )
