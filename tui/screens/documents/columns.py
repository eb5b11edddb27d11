"""How the document list draws its columns: the fixed ones (rank, the markers, the duplicate
marks), then the columns
chosen for the corpus (engine.api.columns: any of the engine's registry or meta.FIELD), then the
text. One look per column name (LOOKS: width, alignment, when it drops out on a narrow line,
and the cell's text from a DocRow); a column without a look gets its kind's default, so a
column registered in the engine shows up without a line here.

The text column never gets less than a third of the line: on a narrow terminal the chosen
columns drop out by their drop order (lowest first; 0: never).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size

from engine.api.browse import DocRow
from engine.api.columns import NUMBER, column
from engine.units import abbreviate, format_number
from tui.safe_text import one_line

MARKS = "marks"  # kept, label, contamination markers
DUPS = "dups"  # its duplicate clusters' sizes: "=3" exact, "≈5" near, "=2≈5" (engine.api.dups)
TEXT = "text"
LABEL_MARKS = {"good": "+", "bad": "-", "skip": "~"}
KEPT_MARK = "●"
CONTAMINATED_MARK = "!"  # shares an n-gram with a benchmark example (the run's newest check)
SNIPPET_MIN = 10
FIXED = ("rank", MARKS, DUPS)
NOT_SORTABLE = (MARKS, DUPS, TEXT)  # drawn columns that are not engine columns


@dataclass(frozen=True)
class Look:
    """A column's title, width in cells, alignment, drop order and cell text."""

    title: str
    width: int
    right: bool
    drop: int
    cell: Callable[[DocRow], str]


def _marks(row: DocRow) -> str:
    kept = " " if row.kept is None else (KEPT_MARK if row.kept else "·")
    label = LABEL_MARKS.get(row.label or "", " ")
    dirty = CONTAMINATED_MARK if row.contaminated else " "
    return kept + label + dirty


def tail(text: str, width: int) -> str:
    """The end of `text` in `width` cells ("…" marks the cut): a source's file."""
    if len(text) <= width:
        return text
    return "…" + text[len(text) - width + 1 :] if width > 1 else text[-width:]


def fit(text: str, width: int, right: bool = False) -> str:
    """`text` cut or padded to exactly `width` cells ("…" marks a cut)."""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else text[:width]
    return text.rjust(width) if right else set_cell_size(text, width)


SOURCE_WIDTH = 22
LOOKS: dict[str, Look] = {
    "rank": Look("rank", 9, True, 0, lambda r: str(r.rank)),
    MARKS: Look("", 3, False, 0, _marks),
    DUPS: Look("dups", 5, False, 3, lambda r: r.dups),
    "prob": Look("prob", 8, True, 5, lambda r: format_number(r.prob, 3)),
    "score": Look("score", 8, True, 3, lambda r: format_number(r.score, 3)),
    "tokens": Look("tokens", 7, True, 4, lambda r: abbreviate(r.n_tokens)),
    "benchmark": Look("benchmark", 14, False, 2, lambda r: r.benchmark or "-"),
    "source": Look(
        "source",
        SOURCE_WIDTH,
        False,
        1,
        lambda r: tail(one_line(r.values.get("source") or "-"), SOURCE_WIDTH),
    ),
}


def look(name: str) -> Look:
    """The look of column `name`: its own, else its kind's (numbers right-aligned, 3
    significant digits; text left, cut with "…")."""
    found = LOOKS.get(name)
    if found is not None:
        return found
    col = column(name)

    def cell(row: DocRow) -> str:
        value = row.values.get(name)
        if value is None:
            return "-"
        return format_number(value, 3) if isinstance(value, float) else one_line(value)

    if col.kind == NUMBER:
        return Look(col.title, 8, True, 2, cell)
    return Look(col.title, 14, False, 1, cell)


def snippet_min(width: int) -> int:
    """The fewest cells the text column gets on a line `width` cells wide: a third of it."""
    return max(SNIPPET_MIN, -(-width // 3))


def layout(names: list[str], width: int) -> list[tuple[str, int, bool]]:
    """(column, width, right-aligned) of each column shown on a line `width` cells wide: the
    fixed ones, the chosen `names` that fit, the text last with the rest of the line."""
    shown = [*FIXED, *names]
    droppable = sorted((look(n).drop, -i, n) for i, n in enumerate(shown) if look(n).drop)
    for _order, _at, name in droppable:
        used = sum(look(n).width + 1 for n in shown)
        if width - used >= snippet_min(width):
            break
        shown.remove(name)
    out = [(n, look(n).width, look(n).right) for n in shown]
    used = sum(w + 1 for _n, w, _r in out)
    out.append((TEXT, max(SNIPPET_MIN, width - used), False))
    return out


def kwic_window(text: str, hits: list[tuple[int, int]], width: int) -> tuple[str, int]:
    """The part of a keyword-in-context line that shows its first hit a third of the way in
    (`width` cells): (the text from there, how many characters were cut from its start)."""
    if not hits or hits[0][0] < width // 3:
        return text, 0
    cut = hits[0][0] - width // 3
    return "…" + text[cut + 1 :], cut
