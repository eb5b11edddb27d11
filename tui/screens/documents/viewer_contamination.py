"""The viewer's contamination pane: a doc's n-gram overlaps with benchmark examples (from the
run's newest contamination check), each span shown in its context next to the benchmark item,
and the span's place in the text (for selecting it in the TextArea)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from engine.api.contamination import DocContamination
from tui.safe_text import one_line

CONTEXT = 60
SHOWN = 5
ITEM_CHARS = 300


def flat(text: str) -> str:
    """One line, whitespace runs as one space, control characters made visible."""
    return one_line(" ".join(text.split()))


def span_location(text: str, start: int, end: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(row, column) of `start` and `end` in `text` (TextArea coordinates)."""

    def at(offset: int) -> tuple[int, int]:
        row = text.count("\n", 0, offset)
        line_start = text.rfind("\n", 0, offset) + 1
        return row, offset - line_start

    return at(start), at(end)


def contamination_note(found: DocContamination) -> Text:
    """For a doc without overlaps (shown under its fields): clean, or not checked and why."""
    check = found.check
    if check is None:
        return Text(
            "\ncontamination: not checked (no check of this run yet: x on the Threshold screen)",
            style="dim",
        )
    if found.checked:
        return Text(
            f"\ncontamination: none (no word {check.n}-gram shared with a benchmark example)",
            style="dim",
        )
    return Text(
        f"\ncontamination: not checked (the newest check covers the first {check.upto:,} "
        "docs of the probability order)",
        style="dim",
    )


def contamination_pane(
    found: DocContamination, text: str, variables: dict[str, Any], current: int
) -> Group:
    """The pane of a doc with overlaps: each one (the span highlighted in its context, the
    benchmark item under it)."""
    check = found.check
    assert check is not None and found.hits
    title = Text("benchmark contamination", style="bold")
    warn = f"bold {variables.get('error', 'red')}"
    head = Text(f"{len(found.hits)} overlap(s), word {check.n}-grams", style=warn)
    head.append("  o: select the next one in the text", style="dim")
    parts: list[Any] = [title, head]
    for k, hit in enumerate(found.hits[:SHOWN]):
        grid = Table.grid(padding=(0, 1))
        grid.add_column(ratio=1)
        line = Text(f"{'▶ ' if k == current else ''}{one_line(hit.benchmark)}", style="bold")
        split = f" ({one_line(hit.split)} split)" if hit.split else ""
        line.append(
            f"{split} · example {one_line(hit.example)} · {hit.ngrams} n-grams · chars "
            f"{hit.start:,}-{hit.end:,}"
        )
        grid.add_row(line)
        context = Text(flat(text[max(0, hit.start - CONTEXT) : hit.start]) + " ")
        context.append(flat(hit.span), style=f"reverse {variables.get('error', 'red')}")
        context.append(" " + flat(text[hit.end : hit.end + CONTEXT]))
        grid.add_row(Text("doc: ", style="dim") + context)
        item = flat(hit.question or hit.example_text or "")
        if len(item) > ITEM_CHARS:
            item = item[:ITEM_CHARS] + "…"
        grid.add_row(Text("item: ", style="dim") + Text(item))
        if hit.answer:
            grid.add_row(Text(f"answer: {flat(hit.answer[:200])}", style="dim"))
        parts.append(grid)
    if len(found.hits) > SHOWN:
        parts.append(Text(f"… and {len(found.hits) - SHOWN} more", style="dim"))
    parts.append(Text(""))
    return Group(*parts)
