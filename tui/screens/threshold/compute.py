"""The compute panel: a training budget (N and D, or C) and what the compute law makes of it.

F_opt(C) = 4e-5 · C^0.25 % of tokens, the kept tokens and epochs at F_opt and at the current
keep, a data-starvation warning past MAX_EPOCHS, and the F_opt table by compute. The budget
is read as it is typed (errors wait for enter); a new budget posts `BudgetChanged`.
"""

from __future__ import annotations

import math
from typing import Any

from rich.style import Style
from rich.table import Table
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Static

from engine.api.tradeoff import MAX_EPOCHS, Budget, parse_amount
from engine.errors import BetrError
from tui.screens.threshold.format import fmt_count, fmt_epochs, fmt_pct, fmt_sci
from tui.widgets.cards import CardRow, NumberCard, update_static
from tui.widgets.plots import theme_colour

BUDGET_FIELDS = (
    ("#th-params", "model parameters N"),
    ("#th-tokens", "training tokens D"),
    ("#th-compute-input", "compute C"),
)


class ComputePanel(Vertical):
    class BudgetChanged(Message):
        def __init__(self, budget: Budget):
            super().__init__()
            self.budget = budget

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.budget = Budget()
        self._table_drawn = False  # the F_opt table (fixed rows) is on screen

    def compose(self) -> ComposeResult:
        yield Label("Compute (C = 6ND)", classes="th-heading")
        with Horizontal(id="th-budget-row"):
            with Vertical():
                yield Label("N params", classes="card-caption")
                yield Input(placeholder="1B", id="th-params")
            with Vertical():
                yield Label("D train tokens", classes="card-caption")
                yield Input(placeholder="20B", id="th-tokens")
            with Vertical():
                yield Label("or C FLOPs", classes="card-caption")
                yield Input(placeholder="1.2e20", id="th-compute-input")
        yield Static("", id="th-budget-error", classes="th-error", markup=False)
        yield CardRow(
            NumberCard("C", "th-compute-c"),
            NumberCard("F_opt(C)", "th-f-opt"),
            NumberCard("kept at F_opt", "th-kept-f-opt"),
            NumberCard("epochs at F_opt", "th-epochs"),
            NumberCard("epochs at this keep", "th-epochs-keep"),
            min_card=19,
            classes="th-cards",
        )
        yield Static("", id="th-starvation", classes="th-warning", markup=False)
        yield Static("", id="th-compute-detail", markup=False)
        yield Static("", id="th-table")

    def focus_budget(self) -> None:
        self.query_one("#th-params", Input).focus()

    # -- the budget ----------------------------------------------------------------------------
    @on(Input.Changed, "#th-params, #th-tokens, #th-compute-input")
    def budget_changed(self) -> None:
        """Typing updates the numbers once the budget parses; errors wait for enter."""
        self.read_budget(show_error=False)

    @on(Input.Submitted, "#th-params, #th-tokens, #th-compute-input")
    def budget_submitted(self) -> None:
        self.read_budget(show_error=True)

    def read_budget(self, show_error: bool) -> None:
        error = self.query_one("#th-budget-error", Static)
        try:
            values = [
                parse_amount(text, name)
                if (text := self.query_one(sel, Input).value.strip())
                else None
                for sel, name in BUDGET_FIELDS
            ]
            budget = Budget.of(*values)
        except BetrError as exc:
            if show_error:
                error.update(str(exc))
            budget = Budget()
        else:
            error.update("")
        if budget != self.budget:
            self.budget = budget
            self.post_message(self.BudgetChanged(budget))

    # -- the numbers ---------------------------------------------------------------------------
    def _set(self, widget_id: str, content: Any, *, same_size: bool = False) -> None:
        update_static(self.query_one(f"#{widget_id}", Static), content, same_size=same_size)

    def show(self, s: dict[str, Any] | None) -> None:
        """Show the compute law of `tradeoff(...)` (None: no run, only the F_opt table)."""
        law = (s or {}).get("compute_law") or {}
        known = law.get("compute") is not None
        self._set("th-compute-c", f"{fmt_sci(law['compute'])} FLOPs" if known else "-")
        self._set("th-f-opt", fmt_pct(law.get("f_opt_percent")) if known else "-")
        self._set("th-kept-f-opt", fmt_count(law.get("kept_tokens_at_f_opt"), "tokens"))
        self._set("th-epochs", fmt_epochs(law.get("epochs_at_f_opt")))
        self._set("th-epochs-keep", fmt_epochs((s or {}).get("epochs_at_keep")))
        self.show_starvation(s, law)
        if known:
            parts = [f"C = 6ND = {fmt_sci(law['compute'])} FLOPs"]
            if law.get("params") is not None:
                parts.append(f"N = {law['params']:,.0f} params, D = {law['tokens']:,.0f} tokens")
            if law.get("kept_tokens_at_f_opt") is not None:
                parts.append(f"kept at F_opt = {law['kept_tokens_at_f_opt']:,.0f} tokens")
            detail = "\n".join(parts) + "\no: use F_opt as the keep rate"
        else:
            detail = "enter N and D, or C (1e9, 1B, 300M); F_opt(C) = 4e-5 · C^0.25 %"
        self._set("th-compute-detail", detail)
        self._set("th-table", self.compute_table(s, law), same_size=self._table_drawn)
        self._table_drawn = True

    def show_starvation(self, s: dict[str, Any] | None, law: dict[str, Any]) -> None:
        starving = []
        if law.get("starvation_at_f_opt"):
            starving.append(f"at F_opt ({fmt_epochs(law['epochs_at_f_opt'])})")
        if (s or {}).get("starvation_at_keep"):
            starving.append(f"at this keep ({fmt_epochs(s['epochs_at_keep'])})")
        self.query_one("#th-starvation", Static).display = bool(starving)
        self._set(
            "th-starvation",
            f"⚠ data starvation {' and '.join(starving)}: more than {MAX_EPOCHS:g} epochs "
            "of the kept data; repeats stop paying (Muennighoff et al. 2023)"
            if starving
            else "",
        )

    def compute_table(self, s: dict[str, Any] | None, law: dict[str, Any]) -> Table:
        table = Table(
            box=None,
            padding=(0, 1),
            header_style=Style(dim=True),
            title="F_opt by compute",
            title_justify="left",
        )
        table.add_column("C (FLOPs)", no_wrap=True)
        table.add_column("F_opt", justify="right", no_wrap=True)
        table.add_column("kept tokens", justify="right", no_wrap=True)
        rows = (s or {}).get("table") or []
        near = None
        if rows and law.get("compute"):
            near = min(
                range(len(rows)),
                key=lambda i: abs(math.log10(rows[i]["compute"]) - math.log10(law["compute"])),
            )
        mark = Style(color=theme_colour(self.app, "accent"), bold=True)
        for i, row in enumerate(rows):
            table.add_row(
                fmt_sci(row["compute"]),
                fmt_pct(row["f_opt_percent"]),
                fmt_count(row.get("kept_tokens"), "tokens"),
                style=mark if i == near else None,
            )
        return table
