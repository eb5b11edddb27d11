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
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from engine.api.tradeoff import MAX_EPOCHS, Budget, ComputeLaw, RunTradeoff, parse_amount
from engine.errors import BetrError
from tui.screens.threshold.format import fmt_count, fmt_epochs, fmt_pct, fmt_sci
from tui.screens.threshold.messages import BudgetChanged
from tui.widgets.cards import CardRow, NumberCard, update_static
from tui.widgets.form_input import FormInput
from tui.widgets.plots import theme_colour

BUDGET_FIELDS = (
    ("#th-params", "model parameters N"),
    ("#th-tokens", "training tokens D"),
    ("#th-compute-input", "compute C"),
)
AMOUNT_HINT = "type an amount such as 1B, 300M, 2.5T or 1.2e20 and press enter"
INCOMPLETE = "a budget needs both N and D, or C (with or without one of them)"


class ComputePanel(Vertical):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.budget = Budget()
        self._table_drawn = False  # the F_opt table (fixed rows) is on screen

    def compose(self) -> ComposeResult:
        yield Label("Compute (C = 6ND)", classes="th-heading", markup=False)
        with Horizontal(id="th-budget-row"):
            with Vertical():
                yield Label("N params", classes="card-caption", markup=False)
                yield FormInput(placeholder="1B", id="th-params", on_enter=self.after_enter)
            with Vertical():
                yield Label("D train tokens", classes="card-caption", markup=False)
                yield FormInput(placeholder="20B", id="th-tokens", on_enter=self.after_enter)
            with Vertical():
                yield Label("or C FLOPs", classes="card-caption", markup=False)
                yield FormInput(
                    placeholder="1.2e20", id="th-compute-input", on_enter=self.after_enter
                )
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
        yield Static("", id="th-table", markup=False)

    def focus_budget(self) -> None:
        self.query_one("#th-params", Input).focus()

    # -- the budget ----------------------------------------------------------------------------
    @on(Input.Changed, "#th-params, #th-tokens, #th-compute-input")
    def budget_changed(self) -> None:
        """Typing updates the numbers once the budget parses; errors wait for enter."""
        self.read_budget(show_error=False)

    def after_enter(self, field: FormInput) -> Widget | None:
        """Where the keys go after enter in a budget field: N with D still empty moves on to D
        (and back); a whole budget hands them back to the keep bar (so `o` uses F_opt); a
        problem keeps them here to fix it."""
        from tui.screens.threshold.keepbar import KeepBar

        texts = self.budget_texts()
        _budget, problem = self.budget_problem()
        partner = {"th-params": ("#th-tokens", 1), "th-tokens": ("#th-params", 0)}
        if problem == INCOMPLETE and field.id in partner and not texts[2]:
            other, k = partner[field.id]
            return None if texts[k] else self.query_one(other, FormInput)
        return None if problem else self.screen.query_one(KeepBar)

    @on(Input.Submitted, "#th-params, #th-tokens, #th-compute-input")
    def budget_submitted(self, event: Input.Submitted) -> None:
        """The budget read at enter; a problem is said in the panel's own words (keys, not
        CLI flags), except a half-entered N and D while the other is being typed."""
        texts = self.budget_texts()
        _budget, problem = self.budget_problem()
        partner = {"th-params": 1, "th-tokens": 0}.get(event.input.id or "")
        if problem == INCOMPLETE and partner is not None and not texts[2] and not texts[partner]:
            self.query_one("#th-budget-error", Static).update("")
            return
        self.read_budget(show_error=True)

    def budget_texts(self) -> list[str]:
        return [self.query_one(sel, Input).value.strip() for sel, _name in BUDGET_FIELDS]

    def budget_problem(self) -> tuple[Budget, str]:
        """The budget the inputs give, or Budget() and what is wrong with them."""
        values: list[float | None] = []
        for (_sel, name), text in zip(BUDGET_FIELDS, self.budget_texts(), strict=True):
            try:
                values.append(parse_amount(text, name) if text else None)
            except BetrError:
                return Budget(), f"{name}: '{text}' is not a positive amount; {AMOUNT_HINT}"
        try:
            return Budget.of(*values), ""
        except BetrError:
            if all(v is not None for v in values):
                return Budget(), (
                    "compute C disagrees with 6·N·D: clear C, or give C with only one of N and D"
                )
            return Budget(), INCOMPLETE

    def read_budget(self, show_error: bool) -> None:
        error = self.query_one("#th-budget-error", Static)
        budget, problem = self.budget_problem()
        if problem:
            if show_error:
                error.update(problem)
        else:
            error.update("")
        if budget != self.budget:
            self.budget = budget
            self.post_message(BudgetChanged(budget))

    # -- the numbers ---------------------------------------------------------------------------
    def _set(self, widget_id: str, content: Any, *, same_size: bool = False) -> None:
        update_static(self.query_one(f"#{widget_id}", Static), content, same_size=same_size)

    def show(self, s: RunTradeoff | None) -> None:
        """Show the compute law of `tradeoff(...)` (None: no run, only the F_opt table)."""
        law = s.compute_law if s is not None else ComputeLaw(None, None, None, None)
        known = law.compute is not None
        self._set("th-compute-c", f"{fmt_sci(law.compute)} FLOPs" if known else "-")
        self._set("th-f-opt", fmt_pct(law.f_opt_percent) if known else "-")
        self._set("th-kept-f-opt", fmt_count(law.kept_tokens_at_f_opt, "tokens"))
        self._set("th-epochs", fmt_epochs(law.epochs_at_f_opt))
        self._set("th-epochs-keep", fmt_epochs(s.epochs_at_keep if s is not None else None))
        self.show_starvation(s)
        if law.compute is not None:
            parts = [f"C = 6ND = {fmt_sci(law.compute)} FLOPs"]
            if law.params is not None and law.tokens is not None:
                parts.append(f"N = {law.params:,.0f} params, D = {law.tokens:,.0f} tokens")
            if law.kept_tokens_at_f_opt is not None:
                parts.append(f"kept at F_opt = {law.kept_tokens_at_f_opt:,.0f} tokens")
            detail = "\n".join(parts) + "\no: use F_opt as the keep rate"
        else:
            detail = "enter N and D, or C (1e9, 1B, 300M); F_opt(C) = 4e-5 · C^0.25 %"
        self._set("th-compute-detail", detail)
        self._set("th-table", self.compute_table(s), same_size=self._table_drawn)
        self._table_drawn = True

    @staticmethod
    def summary_line(s: RunTradeoff | None) -> str:
        """The compute law in one line, for a layout where the panel sits below the fold:
        "C 1.2e20 FLOPs · F_opt 4.19% · kept at F_opt 555k tokens · epochs at F_opt 36 · epochs
        at this keep 15.1 (c: budget, o: use F_opt)"."""
        law = s.compute_law if s is not None else None
        if s is None or law is None or law.compute is None:
            return "compute: no budget yet (c: enter N and D, or C)"
        parts = [
            f"C {fmt_sci(law.compute)} FLOPs",
            f"F_opt {fmt_pct(law.f_opt_percent)}",
        ]
        if law.kept_tokens_at_f_opt is not None:
            parts.append(f"kept at F_opt {fmt_count(law.kept_tokens_at_f_opt, 'tokens')}")
        if law.epochs_at_f_opt is not None:
            parts.append(f"{fmt_epochs(law.epochs_at_f_opt)} at F_opt")
        if s.epochs_at_keep is not None:
            parts.append(f"{fmt_epochs(s.epochs_at_keep)} at this keep")
        starving = law.starvation_at_f_opt or s.starvation_at_keep
        return (
            " · ".join(parts)
            + (" ⚠ data starvation" if starving else "")
            + (" (c: budget, o: use F_opt)")
        )

    def show_starvation(self, s: RunTradeoff | None) -> None:
        starving = []
        if s is not None and s.compute_law.starvation_at_f_opt:
            starving.append(f"at F_opt ({fmt_epochs(s.compute_law.epochs_at_f_opt)})")
        if s is not None and s.starvation_at_keep:
            starving.append(f"at this keep ({fmt_epochs(s.epochs_at_keep)})")
        self.query_one("#th-starvation", Static).display = bool(starving)
        self._set(
            "th-starvation",
            f"⚠ data starvation {' and '.join(starving)}: more than {MAX_EPOCHS:g} epochs "
            "of the kept data; repeats stop paying (Muennighoff et al. 2023)"
            if starving
            else "",
        )

    def compute_table(self, s: RunTradeoff | None) -> Table:
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
        rows = s.table if s is not None else []
        compute = s.compute_law.compute if s is not None else None
        near = None
        if rows and compute:
            near = min(
                range(len(rows)),
                key=lambda i: abs(math.log10(rows[i].compute) - math.log10(compute)),
            )
        mark = Style(color=theme_colour(self.app, "accent"), bold=True)
        for i, row in enumerate(rows):
            table.add_row(
                fmt_sci(row.compute),
                fmt_pct(row.f_opt_percent),
                fmt_count(row.kept_tokens, "tokens"),
                style=mark if i == near else None,
            )
        return table
