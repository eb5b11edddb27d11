"""Whether a value read from JSON fits a dataclass field's type hint, and how to name the type
in an error. Job specs and checkpoints both live as JSON in the job table and both check their
fields with these when they are rebuilt."""

from __future__ import annotations

import types
import typing
from typing import Any


def conforms(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(hint)
        return isinstance(value, tuple) and all(conforms(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


NAMES = {str: "text", int: "an integer", float: "a number", bool: "true or false"}
PLURALS = {str: "texts", int: "integers", float: "numbers"}


def describe(hint: Any) -> str:
    """The type in words, for an error message: "an integer or null", "a list of texts"."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(h) for h in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return f"a list of {PLURALS.get(item, 'objects' if _is_dict(item) else 'values')}"
    if origin is dict or hint is dict:
        return "an object"
    return NAMES.get(hint, getattr(hint, "__name__", str(hint)))


def _is_dict(hint: Any) -> bool:
    return hint is dict or typing.get_origin(hint) is dict
