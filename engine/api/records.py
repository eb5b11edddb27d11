"""The base of the API's result dataclasses (`Record`, in the foundation layer so the pure
results the API re-exports share it): `to_json()` gives the fields in declaration order."""

from __future__ import annotations

from engine.records import Record

__all__ = ["Record"]
