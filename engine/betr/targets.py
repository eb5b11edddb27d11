"""Target sets: named groups of benchmarks a BETR run scores documents against."""

from __future__ import annotations


def parse_names(spec: str) -> list[str]:
    """ "a, b,c" -> ["a", "b", "c"]."""
    return [name.strip() for name in spec.split(",") if name.strip()]
