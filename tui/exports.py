"""What the TUI writes under <workspace>/exports/: a table as CSV, a plot as SVG (a region of the
screen as drawn, or every line of a Line-API widget), each file private to its owner."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.geometry import Region
from textual.strip import Strip

from engine.workspace import open_private


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "table"


def export_path(exports: Path, prefix: str, stem: str, ext: str) -> Path:
    """<exports>/<prefix>-<stem as a file name>-<timestamp>.<ext>"""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return exports / f"{prefix}-{slug(stem)}-{stamp}.{ext}"


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """The table as CSV (None as empty); the parent folder is created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_private(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow(["" if v is None else v for v in row])
    return path


def write_text(path: Path, text: str) -> Path:
    """`text` into a new private file; the parent folder is created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_private(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def recording_console(width: int) -> Console:
    return Console(
        width=width,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )


def region_svg(app: Any, region: Region, title: str) -> str:
    """An SVG of one region of the screen as drawn now (a plot, the heatmap)."""
    update = app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens, simplify=True
    )
    console = recording_console(region.width)
    for line in update.strips[region.y : region.bottom]:
        strip = Strip.join(line).crop(region.x, region.right)
        for seg in strip:
            console.print(seg.text, style=seg.style, end="", markup=False, highlight=False)
        console.print()
    return console.export_svg(title=title)


def strips_svg(strips: Sequence[Any], width: int, title: str) -> str:
    """An SVG of lines drawn by a Line-API widget (all of them, not only those on screen)."""
    console = recording_console(width)
    for strip in strips:
        for seg in strip:
            console.print(seg.text, style=seg.style, end="", markup=False, highlight=False)
        console.print()
    return console.export_svg(title=title)
