"""The viewer's duplicates pane: the other members of the doc's exact and near duplicate
clusters (engine.api.dups.doc_duplicates), each with its own id, tokens and opening; `d` opens
them in a viewer of their own (] and [ walk the cluster)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.text import Text
from textual.message import Message

from engine.api.browse import RunIndex, View
from engine.api.dups import DocDuplicates, DupMember
from engine.units import abbreviate
from tui.safe_text import one_line

SHOWN = 8  # members listed per kind


@dataclass
class DocDuplicatesRead(Message):
    doc_id: int
    found: DocDuplicates | None
    error: str | None = None


def _members(text: Text, title: str, members: list[DupMember]) -> None:
    text.append(f"\n{title} ({len(members)} other{'s' * (len(members) != 1)})\n", style="bold")
    for m in members[:SHOWN]:
        text.append(f"  {one_line(m.ext_id)}", style="bold")
        text.append(f" · {abbreviate(m.n_tokens)} tok · {one_line(m.snippet)}\n")
    if len(members) > SHOWN:
        text.append(f"  … {len(members) - SHOWN} more (d opens them all)\n", style="dim")


def duplicates_pane(found: DocDuplicates) -> Text:
    """The pane's text: the members by kind, or that there are none (and whether near
    duplicates were detected)."""
    text = Text()
    if found.exact:
        _members(text, "= exact duplicates", found.exact)
    if found.near:
        _members(text, "≈ near duplicates", found.near)
    if found.exact or found.near:
        text.append("  d opens them (] and [ walk the cluster)\n", style="dim")
        return text
    if found.near_run is None:
        text.append(
            "\nduplicates: no exact copy; near duplicates not detected yet (betr dups --near)",
            style="dim",
        )
    else:
        text.append("\nduplicates: none, exact or near", style="dim")
    return text


def members_view(index: RunIndex, view: View, doc_id: int, found: DocDuplicates) -> View | None:
    """A view of the doc and its cluster members that the run holds (by probability rank),
    to walk in a viewer of its own; None when there are none."""
    ids = {doc_id, *(m.doc_id for m in found.exact), *(m.doc_id for m in found.near)}
    rows = np.flatnonzero(np.isin(index.doc_id, np.fromiter(ids, dtype=np.int64)))
    if len(rows) < 2:
        return None
    return View(query=view.query, rows=rows.astype(np.int64), cut=view.cut)
