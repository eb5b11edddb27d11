"""The one list of main screens: the App's modes, their keys, actions, palette and help entries.

Adding a screen is a module (or package) with its `Screen` class plus one line below. The App
builds MODES from this list, `tui.actions` the `screen_<mode>` actions (key, palette name,
footer label, help line), `check_action` the actions that switch screens, and the help screen
its titles. Screen classes are named by "module:Class" and imported on first use, so this
module imports no screen: the screens import `tui.actions`, which imports this, and it lives
outside `tui.screens` so that no package imports back into the other.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.screen import Screen


@dataclass(frozen=True)
class ScreenEntry:
    mode: str  # the App mode, and the SCOPE of the screen's own actions
    key: str  # default key of its `screen_<mode>` action
    screen: str  # "module:Class"
    long_name: str  # the command palette's name of the action that opens it
    description: str  # the help line of that action
    label: str  # footer label, and the screen's name in help titles

    @property
    def action(self) -> str:
        """The action (and keymap name) that switches to the screen."""
        return f"screen_{self.mode}"

    @property
    def title(self) -> str:
        return f"{self.label} screen"

    def screen_class(self) -> type[Screen]:
        module, _, name = self.screen.partition(":")
        return getattr(importlib.import_module(module), name)

    def create(self) -> Screen:
        """A new instance of the screen (what the App's MODES call)."""
        return self.screen_class()()


SCREENS: tuple[ScreenEntry, ...] = (
    ScreenEntry(
        "workspace",
        "1",
        "tui.screens.workspace:WorkspaceScreen",
        "open the Workspace screen",
        "corpora, benchmarks, target sets and runs in this workspace",
        "Workspace",
    ),
    ScreenEntry(
        "jobs",
        "2",
        "tui.screens.jobs:JobsScreen",
        "open the Jobs screen",
        "running and finished jobs with their progress, errors and logs",
        "Jobs",
    ),
    ScreenEntry(
        "documents",
        "3",
        "tui.screens.documents:DocumentsScreen",
        "open the Documents screen (ranked documents of the current run)",
        "the current run's documents: sort, filter, search, read and label them",
        "Documents",
    ),
    ScreenEntry(
        "threshold",
        "4",
        "tui.screens.threshold:ThresholdScreen",
        "open the Threshold screen (keep rate, compute law, agreement, run comparison)",
        "what a keep rate keeps and costs; F_opt for a budget; classifier vs BETR; two runs",
        "Threshold",
    ),
    ScreenEntry(
        "rbridge",
        "5",
        "tui.screens.rbridge:RbridgeScreen",
        "open the rBridge screen (proxy scores on reasoning traces, per token)",
        "a benchmark's traces scored by a proxy, token by token; the proxy curve",
        "rBridge",
    ),
    ScreenEntry(
        "analysis",
        "6",
        "tui.screens.analysis:AnalysisScreen",
        "open the Analysis screen (fits, dataset ranking, calibration, correlations)",
        "does a small proxy's score predict the large model's? which benchmarks to trust",
        "Analysis",
    ),
)

BY_MODE: dict[str, ScreenEntry] = {entry.mode: entry for entry in SCREENS}
MAIN_MODES: tuple[str, ...] = tuple(BY_MODE)
SWITCH_ACTIONS: frozenset[str] = frozenset(entry.action for entry in SCREENS)

# Help titles of the scopes that are not main screens (screens pushed on top, dialogs).
OTHER_SCOPE_TITLES = {
    "viewer": "Document viewer",
    "log": "Log viewer",
    "dialog": "Dialogs",
}


def scope_title(scope: str) -> str:
    """The help screen's heading for a scope's keys."""
    entry = BY_MODE.get(scope)
    if entry is not None:
        return entry.title
    return OTHER_SCOPE_TITLES.get(scope, "Everywhere")
