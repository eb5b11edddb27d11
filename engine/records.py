"""The base of the result dataclasses (the API's, and the pure ones it re-exports): one way
to turn a result into JSON.

A face that prints a result as JSON calls `to_json()`: the dataclass's fields in declaration
order (`dataclasses.asdict`), so the keys and their order are the dataclass's, as the dict
that came before it had them."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class Record:
    """Mixin for a result dataclass the faces may print as JSON."""

    def to_json(self) -> dict[str, Any]:
        return asdict(cast("DataclassInstance", self))
