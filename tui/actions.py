"""The one registry of user actions: it feeds the key bindings, the command palette and help.

An action's `name` is at once the binding id (what `[keymap]` in the config remaps), and the
`action_<name>` method that runs it: on the App for global actions, on the screen of its
scope otherwise. Adding an action here adds its key, its palette entry and its help line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from textual.app import App

GLOBAL = "global"
# Screens the palette can switch to before running one of their actions.
MAIN_SCREENS = ("workspace", "jobs", "documents", "threshold")


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


ACTIONS: tuple[Action, ...] = (
    # -- global ------------------------------------------------------------------------------
    Action(
        "screen_workspace",
        "open the Workspace screen",
        "1",
        GLOBAL,
        "corpora, benchmarks, target sets and runs in this workspace",
        "Workspace",
    ),
    Action(
        "screen_jobs",
        "open the Jobs screen",
        "2",
        GLOBAL,
        "running and finished jobs with their progress, errors and logs",
        "Jobs",
    ),
    Action(
        "screen_documents",
        "open the Documents screen (ranked documents of the current run)",
        "3",
        GLOBAL,
        "the current run's documents: sort, filter, search, read and label them",
        "Documents",
    ),
    Action(
        "screen_threshold",
        "open the Threshold screen (keep rate, compute law, agreement, run comparison)",
        "4",
        GLOBAL,
        "what a keep rate keeps and costs; F_opt for a budget; classifier vs BETR; two runs",
        "Threshold",
    ),
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
    # -- Workspace screen --------------------------------------------------------------------
    Action(
        "import_docs",
        "import documents into a new corpus",
        "i",
        "workspace",
        "a form for `betr import docs`: files, corpus name, fields; runs as a job",
        "Import docs",
    ),
    Action(
        "use_corpus",
        "make the highlighted corpus the current corpus",
        "u",
        "workspace",
        "the current corpus (in the header) is what every screen shows",
        "Use corpus",
    ),
    Action(
        "use_run",
        "make the highlighted run the current run",
        "r",
        "workspace",
        "the current run (in the header) is what the Documents and Threshold screens show",
        "Use run",
    ),
    # -- Documents screen and document viewer (tui/screens/documents.py, viewer.py) ----------
    # -- Threshold screen (tui/screens/threshold.py) --------------------------------------------
    # -- Jobs screen ---------------------------------------------------------------------------
    Action(
        "cancel_job",
        "cancel the selected job",
        "c",
        "jobs",
        "stop at the next chunk; resumable",
        "Cancel",
    ),
    Action(
        "resume_job",
        "resume the selected job",
        "r",
        "jobs",
        "continue a failed, cancelled or interrupted job from its last chunk",
        "Resume",
    ),
    Action(
        "show_log",
        "show the log of the selected job",
        "l",
        "jobs",
        "follow the job's log file (enter on a row does the same)",
        "Log",
    ),
    # -- log viewer and dialogs ----------------------------------------------------------------
    Action("close_log", "close the log viewer", "escape", "log", "back to the Jobs screen", "Back"),
    Action(
        "close_dialog",
        "close this dialog",
        "escape",
        "dialog",
        "close without doing anything",
        "Close",
    ),
)

BY_NAME: dict[str, Action] = {a.name: a for a in ACTIONS}


def actions_in(scope: str) -> list[Action]:
    return [a for a in ACTIONS if a.scope == scope]


def bindings_for(scope: str) -> list[Binding]:
    """The BINDINGS of the App (scope GLOBAL) or of a screen."""
    return [a.binding() for a in actions_in(scope) if a.keys]


def effective_keys(action: Action, keymap: dict[str, str]) -> list[str]:
    """The keys an action answers to once the user's `[keymap]` is applied."""
    keys = keymap.get(action.name, action.keys)
    return [k.strip() for k in keys.split(",") if k.strip()]


def unknown_keymap_names(keymap: dict[str, str]) -> list[str]:
    return sorted(name for name in keymap if name not in BY_NAME)


def palette_actions(scope: str) -> Iterable[Action]:
    """Global actions, the main screens' actions, and those of the screen the palette was
    opened on (closing a log makes no sense from the Workspace screen)."""
    for action in ACTIONS:
        shown_here = action.scope in (GLOBAL, *MAIN_SCREENS) or action.scope == scope
        if shown_here and action.name != "command_palette":
            yield action


def key_hint(app: App, action: Action, keymap: dict[str, str]) -> str:
    """The effective keys as the footer shows them ("^s", "?")."""
    return " ".join(app.get_key_display(Binding(k, "")) for k in effective_keys(action, keymap))


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

    def _command(self, action: Action):
        return partial(self.app.run_registry_action, action.name)  # type: ignore[attr-defined]

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
