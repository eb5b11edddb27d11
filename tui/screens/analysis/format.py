"""How the Analysis screen's numbers and texts read, and its exports: every table to CSV and
every plot to SVG under <workspace>/exports/ (tests format the engine's values with these)."""

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

from engine.units import format_number, format_p
from engine.workspace import open_private
from tui.safe_text import one_line

NA = "n/a"
NO_RESULTS = (
    "No evaluation results in this workspace yet. Import some:\n"
    "  betr results import PATH... --format lm-eval|dclm|datadecide|csv\n"
    "or, in the demo workspace, press x (twice) to run the demo experiment "
    "(betr demo experiment): tiny proxies on three selections at two sizes, ~20 minutes."
)
NO_ITEMS = (
    "No per-item results to calibrate. Import lm-eval samples_*.jsonl files\n"
    "  betr results import PATH --format lm-eval\n"
    "or evaluate a proxy on multiple choice (betr proxy eval)."
)


def name(value: Any) -> str:
    """Data text made visible on one line (no escape sequence reaches the terminal)."""
    return one_line(value)


def fmt_r(r: float | None) -> str:
    """A correlation, signed: "+0.812" ("n/a" when undefined)."""
    return format_number(r, 3, missing=NA, signed=True)


def fmt_p(p: float | None) -> str:
    return format_p(p, 2, missing=NA)


def fmt_num(v: float | None, digits: int = 4) -> str:
    return format_number(v, digits, missing=NA)


def fmt_key(v: Any) -> str:
    """A tokens or step value (1000000000 -> 1.0B) with the exact value elsewhere."""
    from engine.units import abbreviate

    return "-" if v is None else abbreviate(int(v))


def na_reason(n: int) -> str:
    return f"fewer than 3 runs (n = {n})" if n < 3 else "a constant vector"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "table"


def export_path(exports: Path, stem: str, ext: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return exports / f"analysis-{slug(stem)}-{stamp}.{ext}"


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """The table as CSV (None as empty); the parent folder is created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_private(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow(["" if v is None else v for v in row])
    return path


def region_svg(app: Any, region: Region, title: str) -> str:
    """An SVG of one region of the screen as drawn now (a plot, the heatmap)."""
    update = app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens, simplify=True
    )
    console = Console(
        width=region.width,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    for line in update.strips[region.y : region.bottom]:
        strip = Strip.join(line).crop(region.x, region.right)
        for seg in strip:
            console.print(seg.text, style=seg.style, end="", markup=False, highlight=False)
        console.print()
    return console.export_svg(title=title)


def strips_svg(strips: Sequence[Any], width: int, title: str) -> str:
    """An SVG of lines drawn by a Line-API widget (all of them, not only those on screen)."""
    console = Console(
        width=width,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    for strip in strips:
        for seg in strip:
            console.print(seg.text, style=seg.style, end="", markup=False, highlight=False)
        console.print()
    return console.export_svg(title=title)
