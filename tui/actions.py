"""The one registry of user actions: it feeds the key bindings, the command palette and help.

The `screen_<mode>` actions come from the screen registry (`tui.screen_registry`).
An action's `name` is at once the binding id (what `[keymap]` in the config remaps), and the
`action_<name>` method that runs it: on the App for global actions, on the screen of its
scope otherwise. Adding an action here adds its key, its palette entry and its help line.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.action_model import GLOBAL, Action
from tui.actions_analysis import ANALYSIS_ACTIONS
from tui.actions_rbridge import RBRIDGE_ACTIONS
from tui.screen_registry import MAIN_MODES, SCREENS

if TYPE_CHECKING:
    from textual.app import App

# Screens the palette can switch to before running one of their actions.
MAIN_SCREENS = MAIN_MODES


def screen_actions() -> list[Action]:
    """`screen_<mode>` for every main screen of the registry (global: a key switches to it)."""
    return [
        Action(entry.action, entry.long_name, entry.key, GLOBAL, entry.description, entry.label)
        for entry in SCREENS
    ]


ACTIONS: tuple[Action, ...] = (
    # -- global ------------------------------------------------------------------------------
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
    Action(
        "open_doc",
        "open the highlighted document in the viewer",
        "enter",
        "documents",
        "the whole text, the benchmark example that pulled it in, and its labels",
        "Open",
    ),
    Action(
        "cycle_sort",
        "sort documents: classifier probability, BETR score, tokens",
        "s",
        "documents",
        "cycle the sort: probability, then BETR score (scored sample first), then tokens",
        "Sort",
    ),
    Action(
        "cycle_benchmark",
        "filter documents by best-matching benchmark",
        "b",
        "documents",
        "cycle: all, then each target benchmark (scored sample only)",
        "Benchmark",
    ),
    Action(
        "cycle_kept",
        "filter documents: kept, dropped or all at the current keep rate",
        "k",
        "documents",
        "cycle: kept, dropped, all, at the current keep rate",
        "Kept",
    ),
    Action(
        "filter_docs",
        "filter documents by source, metadata field or scored sample",
        "f",
        "documents",
        "a dialog: source substring, meta field=value, scored sample only",
        "Filter",
    ),
    Action(
        "search_docs",
        "search document text (full-text, FTS5)",
        "slash",
        "documents",
        "plain words or an FTS5 query over the text; empty clears the search",
        "Search",
    ),
    Action(
        "jump_rank",
        "jump to a document by probability rank",
        "colon",
        "documents",
        "move the cursor to the doc at that rank (says so when the filters hide it)",
        "Rank",
    ),
    Action(
        "toggle_contaminated",
        "filter documents: only those contaminated by a benchmark",
        "x",
        "documents",
        "docs sharing an n-gram with a benchmark example (! in the list), by the newest check",
        "Contam.",
    ),
    Action(
        "clear_filters",
        "clear the document filters and search",
        "c",
        "documents",
        "keep the sort, drop every filter",
        "Clear",
    ),
    Action(
        "export_view",
        "export the documents on screen (the current view) as JSONL",
        "e",
        "documents",
        "doc id, ext id, rank, prob, score, tokens, source, benchmark into <workspace>/exports/",
        "Export",
    ),
    Action(
        "cursor_top", "go to the first document", "g", "documents", "top of the list (home too)"
    ),
    Action(
        "cursor_bottom",
        "go to the last document",
        "G",
        "documents",
        "bottom of the list (end too)",
    ),
    Action(
        "label_good",
        "label this document good",
        "y",
        "viewer",
        "a hand label, compared with the classifier at the current threshold",
        "Good",
        priority=True,
    ),
    Action(
        "label_bad",
        "label this document bad",
        "n",
        "viewer",
        "a hand label, compared with the classifier at the current threshold",
        "Bad",
        priority=True,
    ),
    Action(
        "label_skip",
        "label this document skip",
        "s",
        "viewer",
        "seen, but neither good nor bad",
        "Skip",
        priority=True,
    ),
    Action(
        "clear_label",
        "clear this document's label",
        "backspace",
        "viewer",
        "remove the hand label",
        "Unlabel",
        priority=True,
    ),
    Action(
        "next_doc",
        "next document of the list",
        "right_square_bracket",
        "viewer",
        "the next row of the Documents view",
        "Next",
        priority=True,
    ),
    Action(
        "prev_doc",
        "previous document of the list",
        "left_square_bracket",
        "viewer",
        "the previous row of the Documents view",
        "Prev",
        priority=True,
    ),
    Action(
        "next_overlap",
        "select the next benchmark overlap in the text",
        "o",
        "viewer",
        "the spans this doc shares with benchmark examples (by the run's newest check)",
        "Overlap",
        priority=True,
    ),
    Action(
        "embed_doc",
        "embed this document to see its nearest examples",
        "e",
        "viewer",
        "a doc outside the scored sample: a background job embeds it (cached afterwards)",
        "Embed",
        priority=True,
    ),
    Action(
        "close_viewer",
        "close the document viewer",
        "escape",
        "viewer",
        "back to the Documents screen",
        "Back",
    ),
    # -- Threshold screen (tui/screens/threshold/) -----------------------------------------------
    Action(
        "keep_more",
        "keep more: raise the keep rate by 1 point (0.1 below 1%)",
        "plus,right",
        "threshold",
        "raise the keep rate by 1 point; below 1% by 0.1 point",
        "Keep +",
    ),
    Action(
        "keep_less",
        "keep less: lower the keep rate by 1 point (0.1 below 1%)",
        "minus,left",
        "threshold",
        "lower the keep rate by 1 point; at 1% and below by 0.1 point",
        "Keep -",
    ),
    Action(
        "keep_more_fine",
        "keep slightly more: raise the keep rate by 0.1 point (0.01 below 1%)",
        "shift+right",
        "threshold",
        "raise the keep rate by 0.1 point; below 1% by 0.01 point",
    ),
    Action(
        "keep_less_fine",
        "keep slightly less: lower the keep rate by 0.1 point (0.01 below 1%)",
        "shift+left",
        "threshold",
        "lower the keep rate by 0.1 point; at 1% and below by 0.01 point",
    ),
    Action(
        "edit_keep",
        "type a keep rate (e.g. 12.5%)",
        "k",
        "threshold",
        "focus the keep-rate input; enter applies it, escape goes back",
        "Type keep",
    ),
    Action(
        "toggle_keep_by",
        "keep rate by tokens or by docs (toggle)",
        "b",
        "threshold",
        "the keep rate counts tokens (default) or documents",
        "By",
    ),
    Action(
        "group_sources",
        "group the per-source panel by the next field (source, meta.FIELD)",
        "v",
        "threshold",
        "the kept share by source, or by each metadata field of the corpus in turn",
        "Group",
    ),
    Action(
        "edit_budget",
        "enter a training budget (model parameters N, tokens D, or compute C)",
        "c",
        "threshold",
        "focus the compute panel: N and D, or C (1e9, 1B, 300M); enter applies",
        "Budget",
    ),
    Action(
        "apply_f_opt",
        "apply F_opt(C) as the keep rate (compute-optimal filter rate)",
        "o",
        "threshold",
        "set the keep rate to F_opt(C) = 4e-5 * C^0.25 % of tokens for the budget entered",
        "Use F_opt",
    ),
    Action(
        "next_threshold_tab",
        "next Threshold tab (Threshold, Agreement, Compare runs)",
        "t",
        "threshold",
        "cycle the tabs: threshold and compute, classifier vs BETR, two runs compared",
        "Tab",
    ),
    Action(
        "check_contamination",
        "check the kept set for benchmark contamination",
        "x",
        "threshold",
        "word 13-grams of the kept docs against every imported benchmark, as a background job",
        "Contam.",
    ),
    Action(
        "export_tradeoff",
        "export the trade-off numbers (JSON, as `betr tradeoff --json`)",
        "e",
        "threshold",
        "write the numbers on screen to <workspace>/exports/ as JSON",
    ),
    Action(
        "leave_input",
        "leave the input (back to the keep bar)",
        "escape",
        "threshold",
        "back from an input or table to the keep bar",
    ),
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
    *RBRIDGE_ACTIONS,
    *ANALYSIS_ACTIONS,
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
