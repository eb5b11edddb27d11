"""The one list of main screens: the App's modes, their keys, actions, palette and help entries.

Adding a screen is a package with its `Screen` class and its `actions` module, plus one entry
below. The App builds MODES from this list, `tui.actions` the `screen_<mode>` actions (key,
palette name, footer label, help line) and the registry of every action (each entry brings its
screen's: those of the screen, of what it opens, of its widgets with keys), `check_action` the
actions that switch screens, and the help screen its titles. Screen classes are named by
"module:Class" and imported on first use; the `actions` modules are small and imported here.
No screen imports this module (nor `tui.actions`): a screen takes its bindings from its own
package's `actions`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui.screens.analysis import actions as analysis
from tui.screens.base import DIALOG
from tui.screens.confirm import CONFIRM
from tui.screens.documents import actions as documents
from tui.screens.jobs import actions as jobs
from tui.screens.rbridge import actions as rbridge
from tui.screens.threshold import actions as threshold
from tui.screens.workspace import actions as workspace

if TYPE_CHECKING:
    from textual.screen import Screen

    from tui.action_model import Action


@dataclass(frozen=True)
class ScreenEntry:
    mode: str  # the App mode, and the SCOPE of the screen's own actions
    key: str  # default key of its `screen_<mode>` action
    screen: str  # "module:Class"
    long_name: str  # the command palette's name of the action that opens it
    description: str  # the help line of that action
    label: str  # footer label, and the screen's name in help titles
    actions: tuple[Action, ...]  # its package's actions: the screen's, its widgets', its viewers'

    @property
    def action(self) -> str:
        """The action (and keymap name) that switches to the screen."""
        return f"screen_{self.mode}"

    @property
    def title(self) -> str:
        return f"{self.label} screen"

    def screen_class(self) -> type[Screen[Any]]:
        module, _, name = self.screen.partition(":")
        screen_class: type[Screen[Any]] = getattr(importlib.import_module(module), name)
        return screen_class

    def create(self) -> Screen[Any]:
        """A new instance of the screen (what the App's MODES call)."""
        return self.screen_class()()


SCREENS: tuple[ScreenEntry, ...] = (
    ScreenEntry(
        "workspace",
        "1",
        "tui.screens.workspace.screen:WorkspaceScreen",
        "open the Workspace screen",
        "corpora, benchmarks, target sets and runs in this workspace",
        "Workspace",
        workspace.ACTIONS,
    ),
    ScreenEntry(
        "jobs",
        "2",
        "tui.screens.jobs.screen:JobsScreen",
        "open the Jobs screen",
        "running and finished jobs with their progress, errors and logs",
        "Jobs",
        jobs.ACTIONS,
    ),
    ScreenEntry(
        "documents",
        "3",
        "tui.screens.documents.screen:DocumentsScreen",
        "open the Documents screen (ranked documents of the current run)",
        "the current run's documents: sort, filter, search, read and label them",
        "Documents",
        documents.ACTIONS,
    ),
    ScreenEntry(
        "threshold",
        "4",
        "tui.screens.threshold.screen:ThresholdScreen",
        "open the Threshold screen (keep rate, compute law, agreement, run comparison)",
        "what a keep rate keeps and costs; F_opt for a budget; classifier vs BETR; two runs",
        "Threshold",
        threshold.ACTIONS,
    ),
    ScreenEntry(
        "rbridge",
        "5",
        "tui.screens.rbridge.screen:RbridgeScreen",
        "open the rBridge screen (proxy scores on reasoning traces, per token)",
        "a benchmark's traces scored by a proxy, token by token; the proxy curve",
        "rBridge",
        rbridge.ACTIONS,
    ),
    ScreenEntry(
        "analysis",
        "6",
        "tui.screens.analysis.screen:AnalysisScreen",
        "open the Analysis screen (fits, dataset ranking, calibration, correlations)",
        "does a small proxy's score predict the large model's? which benchmarks to trust",
        "Analysis",
        analysis.ACTIONS,
    ),
)

BY_MODE: dict[str, ScreenEntry] = {entry.mode: entry for entry in SCREENS}
MAIN_MODES: tuple[str, ...] = tuple(BY_MODE)
SWITCH_ACTIONS: frozenset[str] = frozenset(entry.action for entry in SCREENS)

# Help titles of the scopes that are not main screens: screens pushed on top, dialogs, and the
# widgets with keys of their own (while they have the focus)
OTHER_SCOPE_TITLES = {
    documents.VIEWER: "Document viewer",
    documents.FREQUENCY: "Frequency table",
    jobs.LOG: "Log viewer",
    DIALOG: "Dialogs",
    CONFIRM: "Yes/no question",
    documents.DOC_LIST: "Document list (while it has the focus)",
    rbridge.TOKEN_VIEW: "Token view (while it has the focus)",
    analysis.HEATMAP: "Heatmap (while it has the focus)",
    threshold.CLUSTERS: "Clusters tab of the Threshold screen",
}


def scope_title(scope: str) -> str:
    """The help screen's heading for a scope's keys."""
    entry = BY_MODE.get(scope)
    if entry is not None:
        return entry.title
    return OTHER_SCOPE_TITLES.get(scope, "Everywhere")
