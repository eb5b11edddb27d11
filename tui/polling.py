"""Polling without overlap (dolphie style): the next poll is scheduled only after the previous
one finished, so a slow read never piles up workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.message_pump import MessagePump
from textual.timer import Timer

ERROR_BACKOFF = 4.0  # after a failed poll, wait this many intervals before the next


class Poller:
    """`launch()` starts a worker that ends by calling `finished()` (from a message handler,
    on the UI thread). `now()` polls at once, `pause()`/`resume()` stop and restart it."""

    def __init__(self, owner: MessagePump, launch: Callable[[], Any], interval: float):
        self.owner = owner
        self.launch = launch
        self.interval = interval
        self.running = False
        self.paused = False
        self._again = False
        self._timer: Timer | None = None

    def start(self) -> None:
        self.paused = False
        if not self.running and self._timer is None:
            self._launch()

    def _launch(self) -> None:
        self._timer = None
        if self.paused:
            return
        self.running = True
        self.launch()

    def finished(self, ok: bool = True) -> None:
        self.running = False
        if self._again:
            self._again = False
            self._launch()
        elif not self.paused and self._timer is None:
            delay = self.interval if ok else self.interval * ERROR_BACKOFF
            self._timer = self.owner.set_timer(delay, self._launch)

    def now(self) -> None:
        """Poll as soon as possible (after the poll in flight, if any)."""
        if self.running:
            self._again = True
            return
        if self._timer is not None:
            self._timer.stop()
        self._launch()

    def pause(self) -> None:
        self.paused = True
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def resume(self) -> None:
        self.start()
