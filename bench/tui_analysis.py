"""The Correlations heatmap's cursor move, key press to frame, on a 60 x 60 benchmark matrix.

1. TUI (headless, 160x48): from the arrow key to the end of the first frame that shows the
   cursor on its new cell, against a keystroke into an Input (the floor of a key-to-frame
   round trip), median of 40 moves;
2. the widget work alone: the move plus drawing every visible line.

    .venv/bin/python -m bench.tui_analysis

Goal (issue #11): the heatmap's cursor move under 30 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

import numpy as np

from bench.tui import report

GOAL_MS = 30.0
N = 60
CATEGORIES = ("commonsense", "science", "NLI", "semantic", "math", "code")


def matrix(n: int = N, seed: int = 0) -> dict:
    """A {rows, cols, r, p, n} matrix like `corr(..., "matrix")` returns, random but valid."""
    rng = np.random.default_rng(seed)
    names = [f"bench-{k:02d}" for k in range(n)]
    cats = [CATEGORIES[k * len(CATEGORIES) // n] for k in range(n)]
    r = np.clip(rng.normal(0, 0.5, (n, n)), -1, 1)
    r = (r + r.T) / 2
    np.fill_diagonal(r, 1.0)
    obj = r.astype(object)
    obj[3, :] = None  # one n/a row and column (a constant benchmark)
    obj[:, 3] = None
    p = np.full((n, n), 0.01).astype(object)
    return {"kind": "PT-PT", "scale": "1B", "stage": "PT", "rows": names, "cols": names,
            "r": obj.tolist(), "p": p.tolist(), "n": [[400] * n] * n,
            "row_categories": cats, "col_categories": cats}  # fmt: skip


async def bench() -> None:
    from textual.app import App, ComposeResult
    from textual.screen import Screen
    from textual.widgets import Input

    from tui.screens.analysis.heatmap import Heatmap

    painted: list[float] = []
    waiting: list[Callable[[], bool]] = []
    refresh = Screen._compositor_refresh

    def timed_refresh(self) -> None:
        refresh(self)
        if waiting and not painted and waiting[0]():
            painted.append(time.perf_counter())

    Screen._compositor_refresh = timed_refresh  # type: ignore[method-assign]

    class HeatmapApp(App[None]):
        def compose(self) -> ComposeResult:
            yield Input(id="input")
            yield Heatmap(id="map")

        def on_mount(self) -> None:
            self.query_one(Heatmap).show(matrix())

    app = HeatmapApp()
    async with app.run_test(size=(160, 48)) as pilot:
        heatmap = app.query_one(Heatmap)

        async def press_ms(key: str, done: Callable[[], bool]) -> float:
            t0 = time.perf_counter()
            painted.clear()
            waiting.append(done)
            await pilot.press(key)
            while not painted:
                await asyncio.sleep(0.001)
            await pilot.pause()
            waiting.clear()
            return (painted[0] - t0) * 1000

        await pilot.pause(0.5)
        app.query_one(Input).focus()
        base = []
        for ch in "1234567890" * 2:
            base.append(await press_ms(ch, lambda c=ch: app.query_one(Input).value.endswith(c)))
        heatmap.focus()
        await pilot.pause()
        moves = []
        for k in range(40):
            key = ("down", "right")[k % 2] if k < 30 else ("up", "left")[k % 2]
            before = heatmap.cursor
            moves.append(await press_ms(key, lambda b=before: heatmap.cursor != b))
        print(f"-- TUI (headless, 160x48): {N}x{N} matrix, cell width {heatmap.cell_w}")
        report("cursor move (TUI)", statistics.median(moves), "Input keystroke",
               statistics.median(base))  # fmt: skip
        goal = statistics.median(moves) < GOAL_MS
        print(f"goal < {GOAL_MS:.0f} ms: {'ok' if goal else 'MISSED'}")

        def move_and_draw() -> None:
            heatmap.action_move(1 if heatmap.cursor[0] < N - 2 else -N + 2, 0)
            for y in range(heatmap.size.height):
                heatmap.render_line(y)

        times = []
        for _ in range(50):
            t0 = time.perf_counter()
            move_and_draw()
            times.append((time.perf_counter() - t0) * 1000)
        heatmap._cache.clear()
        t0 = time.perf_counter()
        for y in range(heatmap.size.height):
            heatmap.render_line(y)
        full = (time.perf_counter() - t0) * 1000
        print("-- widget work alone: the move plus every visible line (cached lines reused)")
        report("move + draw", statistics.median(times), "full redraw", full)


def main() -> None:
    asyncio.run(bench())


if __name__ == "__main__":
    main()
