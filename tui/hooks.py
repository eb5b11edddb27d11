"""The methods a base class leaves to its concrete subclasses, checked when one is built.

Textual's widgets and screens have their own metaclass, so `abc.ABC` cannot mark the methods
abstract: a base declares them as typed attributes (`read: Callable[[Key], Answer]`, which mypy
checks against each subclass's method) and calls `require_hooks` in `__init__`.
"""

from __future__ import annotations

from collections.abc import Iterable


def require_hooks(obj: object, names: Iterable[str]) -> None:
    """A TypeError naming the methods `obj`'s class does not define."""
    missing = [name for name in names if not callable(getattr(obj, name, None))]
    if missing:
        raise TypeError(f"{type(obj).__name__} must define {', '.join(missing)}")
