"""Number cards: a muted caption over a bold value, in rows that wrap to the width they get.

A `CardRow` is a grid of cards; it picks its number of columns from its own width (no card
narrower than `min_card` cells), so at 80 columns four cards become two rows of two instead of
four truncated ones. Captions and values wrap inside their card; nothing is cut.
"""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Label, Static

MIN_CARD = 20  # cells: "threshold p(positive)" and "328.5k tokens" stay on one line
MAX_COLUMNS = 6  # the `-cols-N` classes of app.tcss


class NumberCard(Vertical):
    """One number with its caption; the value is the Static `#<value_id>`."""

    def __init__(self, caption: str, value_id: str, **kwargs: Any):
        super().__init__(classes="number-card", **kwargs)
        self.caption = caption
        self.value_id = value_id

    def compose(self) -> ComposeResult:
        yield Label(self.caption, classes="card-caption", markup=False)
        yield Static("-", id=self.value_id, classes="card-value", markup=False)


class CardRow(Widget):
    """Cards side by side while they fit, else in as many columns as fit (grid, `-cols-N`)."""

    def __init__(self, *cards: NumberCard, min_card: int = MIN_CARD, **kwargs: Any):
        super().__init__(*cards, **kwargs)
        self.min_card = min_card
        self.n_cards = max(1, len(cards))
        self.set_class(True, f"-cols-{self.columns_for(10_000)}")

    def columns_for(self, width: int) -> int:
        """As many columns as fit, balanced: four cards that do not fit in one row make two
        rows of two (not three and one)."""
        fit = max(1, min(self.n_cards, MAX_COLUMNS, width // self.min_card))
        rows = -(-self.n_cards // fit)
        return -(-self.n_cards // rows)

    def on_resize(self, event: events.Resize) -> None:
        wanted = self.columns_for(event.size.width)
        self.update_classes({f"-cols-{n}": n == wanted for n in range(1, MAX_COLUMNS + 1)})


def update_static(widget: Static, content: RenderableType, *, same_size: bool = False) -> None:
    """Update a Static, repainting only what changed: an unchanged text is left alone, and one
    that keeps its size (a text of the same length, a table with the same rows) is repainted
    without a layout pass over the whole screen (a keep-rate key repeat stays cheap)."""
    if isinstance(content, str):
        old = widget.content
        if old == content:
            return
        same_size = same_size or (isinstance(old, str) and old != "" and len(old) == len(content))
    widget.update(content, layout=not same_size)
