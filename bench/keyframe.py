"""Key-to-frame timing for the headless app: from a key press to the end of the first frame
painted once the screen shows the result (bench/tui.py and bench/growth.py use it).

The screen's compositor refresh is wrapped while the timer is in use: after each refresh the
awaited predicate is tested, and the first refresh for which it holds is the frame that showed
the result. Pilot's own idle waits after that frame are not counted.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


class KeyFrameTimer:
    """Use as a context manager around `app.run_test()`; `press_ms(pilot, key, done)`."""

    def __init__(self) -> None:
        self.painted: list[float] = []
        self.waiting: list[Callable[[], bool]] = []
        self._refresh: Any = None

    def __enter__(self) -> KeyFrameTimer:
        from textual.css.query import NoMatches
        from textual.screen import Screen

        refresh = self._refresh = Screen._compositor_refresh
        timer = self

        def timed_refresh(screen: Screen) -> None:
            refresh(screen)
            if timer.waiting and not timer.painted:
                try:
                    done = timer.waiting[0]()
                except NoMatches:  # the screen is not composed yet
                    done = False
                if done:
                    timer.painted.append(time.perf_counter())

        Screen._compositor_refresh = timed_refresh  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        from textual.screen import Screen

        Screen._compositor_refresh = self._refresh  # type: ignore[method-assign]

    async def __aenter__(self) -> KeyFrameTimer:  # `async with timer, app.run_test() as pilot`
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__(*exc)

    @staticmethod
    async def until(pred: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise TimeoutError("the screen did not update")
            await asyncio.sleep(0.001)

    async def frame_ms(self, start: Callable[[], Any], done: Callable[[], bool]) -> float:
        """ms from calling `start()` (awaited when it returns an awaitable) to the frame
        painted once `done()` holds."""
        t0 = time.perf_counter()
        self.painted.clear()
        self.waiting.append(done)
        result = start()
        if inspect.isawaitable(result):
            await result
        await self.until(lambda: bool(self.painted))
        self.waiting.clear()
        return (self.painted[0] - t0) * 1000

    async def press_ms(
        self, pilot: Any, key: str, done: Callable[[], bool] = lambda: True
    ) -> float:
        """ms from pressing `key` to the frame painted once `done()` holds."""
        took = await self.frame_ms(lambda: pilot.press(key), done)
        await pilot.pause()
        return took


def top_row_loaded(screen: Any) -> bool:
    """The Documents list shows real rows (not "…") at its top."""
    from textual.css.query import NoMatches

    try:
        doclist = screen.doclist
    except NoMatches:  # not composed yet
        return False
    return doclist.view is not None and doclist.row_at(int(doclist.scroll_y)) is not None
