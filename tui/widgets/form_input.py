"""`FormInput`: an Input whose Enter hands the keyboard on in the same breath.

Textual runs an Input's Enter binding only after the key has bubbled up to the App, and moves
the focus a moment later still; keys typed right after Enter (a burst from tmux send-keys or a
paste, or a fast typist: `20B`, enter, `o`) are meanwhile typed into the same input (`20Bo`).
A FormInput decides on Enter itself, in its own message queue, in order with the keys that
follow: `on_enter(input)` says where the keyboard goes next (another field, the screen's main
widget, or nowhere when the value needs fixing); the focus moves at once, and keys already
queued behind the Enter go there too (typed into the next field, or left to bubble up as the
screen's keys). `Submitted` is posted as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import events
from textual.widget import Widget
from textual.widgets import Input


class FormInput(Input):
    def __init__(
        self,
        *args: Any,
        on_enter: Callable[[FormInput], Widget | None] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.on_enter = on_enter
        self.hands_to: Widget | None = None  # where the keys typed after Enter go

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return self.hands_to is None and super().check_consume_key(key, character)

    def receiver(self) -> FormInput | None:
        """The input the keys queued here belong to now (following Enter hand-offs), or None
        when they went on to a widget that is not an input (they are then the screen's)."""
        field: FormInput = self
        seen = {id(self)}
        while field.hands_to is not None:
            nxt = field.hands_to
            if not isinstance(nxt, FormInput) or id(nxt) in seen:
                return None
            seen.add(id(nxt))
            field = nxt
        return field

    async def _on_key(self, event: events.Key) -> None:
        if self.hands_to is not None:
            field = self.receiver()
            event.prevent_default()  # never typed here (Input's own handler would)
            if field is not None:
                event.stop()
                await field._on_key(event)
            return  # otherwise not consumed: it bubbles up to the screen's bindings
        if event.key == "enter" and self.on_enter is not None:
            event.stop()
            event.prevent_default()
            nxt = self.on_enter(self)
            self.post_message(self.Submitted(self, self.value, None))
            if nxt is not None and nxt is not self:
                self.hands_to = nxt
                self.screen.set_focus(nxt)
            return
        await super()._on_key(event)

    def _on_focus(self, event: events.Focus) -> None:
        self.hands_to = None
        super()._on_focus(event)
