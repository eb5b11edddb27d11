"""The Jobs screen's actions (scope "jobs") and the log viewer's it opens (scope "log"),
gathered by the screen registry into `tui.actions` (keys, command palette, help)."""

from __future__ import annotations

from tui.action_model import Action

SCOPE = "jobs"
LOG = "log"

ACTIONS: tuple[Action, ...] = (
    Action(
        "cancel_job",
        "cancel the selected job",
        "c",
        SCOPE,
        "stop at the next chunk; resumable",
        "Cancel",
    ),
    Action(
        "resume_job",
        "resume the selected job",
        "r",
        SCOPE,
        "continue a failed, cancelled or interrupted job from its last chunk",
        "Resume",
    ),
    Action(
        "show_log",
        "show the log of the selected job",
        "l",
        SCOPE,
        "follow the job's log file (enter on a row does the same)",
        "Log",
    ),
    # -- the log viewer (l) ------------------------------------------------------------------
    Action("close_log", "close the log viewer", "escape", LOG, "back to the Jobs screen", "Back"),
)
