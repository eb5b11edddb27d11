"""The Workspace screen's actions (scope "workspace"), gathered by the screen registry into
`tui.actions` (keys, command palette, help)."""

from __future__ import annotations

from tui.action_model import Action

SCOPE = "workspace"

ACTIONS: tuple[Action, ...] = (
    Action(
        "import_docs",
        "import documents into a new corpus",
        "i",
        SCOPE,
        "a form for `betr import docs`: files, corpus name, fields; runs as a job",
        "Import docs",
    ),
    Action(
        "use_corpus",
        "make the highlighted corpus the current corpus",
        "u",
        SCOPE,
        "the current corpus (in the header) is what every screen shows",
        "Use corpus",
    ),
    Action(
        "use_run",
        "make the highlighted run the current run",
        "r",
        SCOPE,
        "the current run (in the header) is what the Documents and Threshold screens show",
        "Use run",
    ),
)
