"""What every eval-results format shares (pure): the rows a parse produces (`Parsed`), the
options of a read, values, sizes, files and duplicate keys. The formats and the rules are in
engine.ingest.results.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InputError, UsageError
from engine.result_fields import RESULT_FIELDS

KEY_FIELDS = ("run", "size", "tokens", "step", "stage", "benchmark", "metric")
ROW_FIELDS = RESULT_FIELDS
DEFAULT_STAGE = "PT"
_MISSING = {"", "nan", "na", "n/a", "none", "null", "-"}


@dataclass(frozen=True)
class ReadOptions:
    """How to read a format's files: the stage of rows whose file names none, whether a bad
    file or record is skipped (and reported) instead of refused, and the CSV column of each
    field (formats that take --columns)."""

    stage: str = DEFAULT_STAGE
    skip_bad: bool = False
    columns: dict[str, str] | None = None


@dataclass
class Parsed:
    """What a parse produced: rows, items, and the counts the import reports."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0
    dropped_examples: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: int = 0
    # a value read two ways (a samples file and its results JSON): {run, step, benchmark,
    # metric, samples, results_json, agree}
    checks: list[dict[str, Any]] = field(default_factory=list)

    def drop(self, where: str) -> None:
        self.dropped += 1
        if len(self.dropped_examples) < 20:
            self.dropped_examples.append(where)

    def add(self, base: dict[str, Any], metric: str, value: Any, where: str) -> bool:
        """A row of `base` (run ... benchmark, attrs, source) with metric = value; a missing
        or NaN value is dropped and counted (False)."""
        v = as_float(value)
        if v is None:
            self.drop(f"{where}: {base.get('benchmark')} {metric}")
            return False
        row = {k: base.get(k) for k in ROW_FIELDS}
        row["metric"] = metric
        row["value"] = v
        self.rows.append(row)
        return True


# -- values and sizes ---------------------------------------------------------------------
def as_float(value: Any) -> float | None:
    """A finite float, or None for missing / NaN / "N/A" / inf (and an integer too large for a
    float); a non-number raises ValueError."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _MISSING or text.upper().startswith("N/A"):
            return None  # also DCLM's "N/A due to missing tasks: [...]"
        value = float(text)
    try:
        v = float(value)
    except OverflowError:  # an integer too large for a float (JSON allows 4300 digits)
        return None
    return v if math.isfinite(v) else None


_UNITS = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def parse_count(value: Any) -> int | None:
    """An integer count from 28795904000, "2.9e10", "160m", "1.4B" or "10K"; None if missing.
    Raises ValueError on anything else."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return round(value)
    text = str(value).strip().replace(",", "").replace("_", "")
    if text.lower() in _MISSING:
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*([kmbgt])?", text, re.IGNORECASE)
    if m is None:
        raise ValueError(f"not a count: {value!r}")
    scale = _UNITS[m.group(2).lower()] if m.group(2) else 1.0
    return round(float(m.group(1)) * scale)


def size_label(params: int | None) -> str | None:
    """1439795200 -> "1.4B", 411616256 -> "412M", 160e6 -> "160M"."""
    if params is None:
        return None
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if params >= scale:
            v = params / scale
            text = f"{v:.0f}" if v >= 99.5 else f"{v:.2g}"
            return f"{text}{unit}"
    return str(params)


_SIZE_IN_NAME = re.compile(r"(?<![\d.a-z])(\d+(?:\.\d+)?)([mb])(?![a-z])", re.IGNORECASE)


def size_from_name(name: str) -> tuple[str | None, int | None]:
    """("160M", 160_000_000) from "pythia-160m-deduped", ("1.4B", ...) from "pythia-1.4b";
    (None, None) when the name carries no size."""
    m = _SIZE_IN_NAME.search(name)
    if m is None:
        return None, None
    return f"{m.group(1)}{m.group(2).upper()}", parse_count(m.group(1) + m.group(2))


def parse_columns(text: str | None) -> dict[str, str] | None:
    """ "run=model,benchmark=task,value=score" -> {"run": "model", ...} (field -> CSV column)."""
    if not text:
        return None
    out: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(
                f"bad --columns entry '{part}'",
                fix="use FIELD=COLUMN pairs, e.g. run=model,benchmark=task,value=score",
            )
        out[key.strip()] = value.strip()
    return out


# -- files --------------------------------------------------------------------------------
def walk_files(paths: Sequence[str], suffixes: tuple[str, ...]) -> list[str]:
    """The files among `paths` (directories walked, sorted) whose names end in `suffixes`;
    a file named directly is always kept."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                out.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(suffixes))
        else:
            out.append(p)
    return out


def csv_rows(path: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(header, [(line, row)]) of a whole CSV file (an InputError when it cannot be read)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            rows = []
            for row in reader:
                rows.append((reader.line_num, row))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read the CSV ({exc})", file=path, fix="check the file") from exc
    return header, rows


def duplicate_keys(rows: Iterable[dict[str, Any]]) -> list[tuple[tuple[Any, ...], list[str]]]:
    """[(key, [sources...])] for every key (KEY_FIELDS) that more than one row has."""
    seen: dict[tuple[Any, ...], list[str]] = {}
    for r in rows:
        seen.setdefault(tuple(r.get(k) for k in KEY_FIELDS), []).append(str(r.get("source")))
    return [(k, v) for k, v in seen.items() if len(v) > 1]


def describe_key(key: Sequence[Any]) -> str:
    return ", ".join(f"{f}={v}" for f, v in zip(KEY_FIELDS, key, strict=True) if v is not None)


def check_duplicates(rows: list[dict[str, Any]]) -> None:
    dups = duplicate_keys(rows)
    if not dups:
        return
    key, sources = dups[0]
    more = f" ({len(dups)} duplicated keys in all)" if len(dups) > 1 else ""
    raise InputError(
        f"duplicate rows for ({describe_key(key)}), from {' and '.join(sorted(set(sources))[:3])}"
        + more,
        fix="import each result once: drop the repeated file or rows, or tell them apart "
        "(another run name, stage or metric)",
    )


def bad_file(parsed: Parsed, exc: InputError, skip_bad: bool) -> None:
    """A bad file or record: raise, or with skip_bad skip it and keep the message."""
    if not skip_bad:
        raise exc
    parsed.skipped.append(exc.message)
