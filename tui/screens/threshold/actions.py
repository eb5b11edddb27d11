"""The Threshold screen's actions (scope "threshold"), gathered by the screen registry into
`tui.actions` (keys, command palette, help)."""

from __future__ import annotations

from tui.action_model import Action

SCOPE = "threshold"
CLUSTERS = "clusters"  # the Clusters tab's keys, while it has the focus

# also a key of the screen's own key handler (k and the keys typed after it go to the input)
EDIT_KEEP = Action(
    "edit_keep",
    "type a keep rate (e.g. 12.5%)",
    "k",
    SCOPE,
    "focus the keep-rate input; enter applies it, escape goes back",
    "Type keep",
)

ACTIONS: tuple[Action, ...] = (
    Action(
        "keep_more",
        "keep more: raise the keep rate by 1 point (0.1 below 1%)",
        "plus,right",
        SCOPE,
        "raise the keep rate by 1 point; below 1% by 0.1 point",
        "Keep +",
    ),
    Action(
        "keep_less",
        "keep less: lower the keep rate by 1 point (0.1 below 1%)",
        "minus,left",
        SCOPE,
        "lower the keep rate by 1 point; at 1% and below by 0.1 point",
        "Keep -",
    ),
    Action(
        "keep_more_fine",
        "keep slightly more: raise the keep rate by 0.1 point (0.01 below 1%)",
        "shift+right",
        SCOPE,
        "raise the keep rate by 0.1 point; below 1% by 0.01 point",
    ),
    Action(
        "keep_less_fine",
        "keep slightly less: lower the keep rate by 0.1 point (0.01 below 1%)",
        "shift+left",
        SCOPE,
        "lower the keep rate by 0.1 point; at 1% and below by 0.01 point",
    ),
    EDIT_KEEP,
    Action(
        "toggle_keep_by",
        "keep rate by tokens or by docs (toggle)",
        "b",
        SCOPE,
        "the keep rate counts tokens (default) or documents",
        "By",
    ),
    Action(
        "group_sources",
        "group the per-source panel by the next field (source, meta.FIELD)",
        "v",
        SCOPE,
        "the kept share by source, or by each metadata field of the corpus in turn",
        "Group",
    ),
    Action(
        "edit_budget",
        "enter a training budget (model parameters N, tokens D, or compute C)",
        "c",
        SCOPE,
        "focus the compute panel: N and D, or C (1e9, 1B, 300M); enter applies",
        "Budget",
    ),
    Action(
        "apply_f_opt",
        "apply F_opt(C) as the keep rate (compute-optimal filter rate)",
        "o",
        SCOPE,
        "set the keep rate to F_opt(C) = 4e-5 * C^0.25 % of tokens for the budget entered",
        "Use F_opt",
    ),
    Action(
        "next_threshold_tab",
        "next Threshold tab (Threshold, Agreement, Compare runs, Clusters)",
        "t",
        SCOPE,
        "cycle the tabs: threshold and compute, classifier vs BETR, two runs compared, topics",
        "Tab",
    ),
    Action(
        "check_contamination",
        "check the kept set for benchmark contamination",
        "x",
        SCOPE,
        "word 13-grams of the kept docs against every imported benchmark, as a background job",
        "Contam.",
    ),
    Action(
        "export_tradeoff",
        "export the trade-off numbers (JSON, as `betr tradeoff --json`)",
        "e",
        SCOPE,
        "write the numbers on screen to <workspace>/exports/ as JSON",
    ),
    Action(
        "leave_input",
        "leave the input (back to the keep bar)",
        "escape",
        SCOPE,
        "back from an input or table to the keep bar",
    ),
    Action(
        "cluster_k",
        "cluster the scored sample into another number of topics (k)",
        "n",
        CLUSTERS,
        "type k on the Clusters tab (empty: the default for the sample); enter clusters",
        "k",
    ),
)
