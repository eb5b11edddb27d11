"""The rBridge screen's actions (scope "rbridge") and the token view's (scope "token_view": its
token cursor, active while it has the focus), gathered by the screen registry into
`tui.actions` (keys, command palette, help).
"""

from __future__ import annotations

from tui.action_model import Action

SCOPE = "rbridge"
TOKEN_VIEW = "token_view"

ACTIONS: tuple[Action, ...] = (
    Action(
        "next_rb_benchmark",
        "rBridge: next benchmark with traces",
        "b",
        SCOPE,
        "cycle the benchmarks that have traces (the select at the top does the same)",
        "Bench",
    ),
    Action(
        "next_rb_proxy",
        "rBridge: next proxy",
        "p",
        SCOPE,
        "cycle the registered proxies (or pick one in the proxy table)",
        "Proxy",
    ),
    Action(
        "cycle_colouring",
        "rBridge: colour tokens by MinMax weight, NLL or weighted NLL",
        "c",
        SCOPE,
        "cycle the per-token colouring: weight u, NLL, NLL × u",
        "Colour",
    ),
    Action(
        "next_top_token",
        "rBridge: jump to the next token carrying most of the score",
        "t",
        SCOPE,
        "walk the 10 tokens with the largest NLL × u, largest first",
        "Top token",
    ),
    Action(
        "prev_top_token",
        "rBridge: jump to the previous top token",
        "T",
        SCOPE,
        "walk the top tokens backwards",
    ),
    Action(
        "sort_traces",
        "rBridge: sort the trace list (score, R-phi, gold, tokens, flags, id)",
        "s",
        SCOPE,
        "cycle the sort column; a click on a column header sorts by it (again: reversed)",
        "Sort",
    ),
    Action(
        "score_proxy",
        "rBridge: score the selected proxy on the selected benchmark (job)",
        "S",
        SCOPE,
        "plan the score and run it as a background job; a cached score is reused",
        "Score",
    ),
    Action(
        "train_proxy",
        "rBridge: train a tiny proxy on a corpus (job)",
        "n",
        SCOPE,
        "a form for `betr proxy train`: corpus, params, tokens, checkpoints, tokenizer",
        "Train",
    ),
    Action(
        "toggle_rb_view",
        "rBridge: switch between the traces and the proxy curve",
        "v",
        SCOPE,
        "the trace list with the per-token view, or the proxy table with its plot",
        "View",
    ),
    Action(
        "next_rb_metric",
        "rBridge: plot the next metric against training tokens (rBridge, R-phi, gold, bpb)",
        "m",
        SCOPE,
        "the Proxies view plots one metric at a time (their scales differ), a curve per "
        "dataset and size",
        "Metric",
    ),
    Action(
        "focus_traces",
        "rBridge: back to the trace list",
        "escape",
        SCOPE,
        "from the token view (enter on a trace goes the other way)",
    ),
    # -- the token view's cursor -------------------------------------------------------------
    Action(
        "token_prev",
        "token view: previous token",
        "left,h",
        TOKEN_VIEW,
        "the cursor one token back",
        action="move(-1)",
    ),
    Action(
        "token_next",
        "token view: next token",
        "right,l",
        TOKEN_VIEW,
        "the cursor one token on",
        action="move(1)",
    ),
    Action(
        "token_line_up",
        "token view: line up",
        "up,k",
        TOKEN_VIEW,
        "the cursor one line up",
        action="move_line(-1)",
    ),
    Action(
        "token_line_down",
        "token view: line down",
        "down,j",
        TOKEN_VIEW,
        "the cursor one line down",
        action="move_line(1)",
    ),
    Action(
        "token_first",
        "token view: first token",
        "home,g",
        TOKEN_VIEW,
        "the trace's first token",
        action="move_to(0)",
    ),
    Action(
        "token_last",
        "token view: last token",
        "end,G",
        TOKEN_VIEW,
        "the trace's last token",
        action="move_to(-1)",
    ),
)
