"""Eval-results files -> long rows (pure: no workspace, no SQL).

`parse_results(paths, fmt, ...)` reads one format and returns `Parsed`: long rows
{run, size, params, tokens, step, stage, benchmark, category (None unless the file gives one:
the workspace's map fills it), metric, value, attrs, source} and per-item rows {run, size,
params, tokens, step, stage, benchmark, item, gold, logliks, source}.

Formats (modules): `lm-eval` (results_lmeval: results JSON v0.3 and v0.4, samples_*.jsonl),
`dclm` and `datadecide` (results_tables), `csv` (results_csv); shared basics in results_common.

Rules shared by every format:
- A NaN, missing or "N/A" value is dropped and counted (`dropped`), never stored.
- Two rows with the same key (run, size, tokens, step, stage, benchmark, metric) are an error
  naming the key and both sources.
- A file of an unknown shape is an error naming the file and what was expected; with skip_bad
  it is skipped and reported (`skipped`) instead, adding nothing.
- stage: the stage of rows whose file does not name one (default "PT").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.analysis import results_csv, results_lmeval, results_tables
from engine.analysis.results_common import (
    DEFAULT_STAGE,
    FORMATS,
    KEY_FIELDS,
    Parsed,
    as_float,
    check_duplicates,
    describe_key,
    parse_columns,
    parse_count,
    size_from_name,
    size_label,
)  # fmt: skip
from engine.errors import InputError, UsageError

__all__ = [
    "FORMATS", "KEY_FIELDS", "Parsed", "as_float", "describe_key", "no_results_error",
    "parse_columns", "parse_count", "parse_results", "size_from_name", "size_label",
]  # fmt: skip


def parse_results(
    paths: Sequence[str],
    fmt: str,
    *,
    columns: dict[str, str] | None = None,
    skip_bad: bool = False,
    stage: str | None = None,
) -> Parsed:
    """Every file of `paths` in format `fmt` -> Parsed (duplicates are an InputError)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown results format '{fmt}'", fix=f"use one of {', '.join(FORMATS)}")
    if columns is not None and fmt != "csv":
        raise UsageError("--columns is for --format csv only", fix="drop --columns")
    stage = stage or DEFAULT_STAGE
    parsed = Parsed()
    if fmt == "lm-eval":
        results_lmeval.parse_lmeval(paths, parsed, stage=stage, skip_bad=skip_bad)
    elif fmt == "dclm":
        results_tables.parse_dclm(paths, parsed, stage=stage, skip_bad=skip_bad)
    elif fmt == "datadecide":
        results_tables.parse_datadecide(paths, parsed, stage=stage, skip_bad=skip_bad)
    else:
        results_csv.parse_long_csv(paths, parsed, columns, stage=stage, skip_bad=skip_bad)
    check_duplicates(parsed.rows)
    _check_item_duplicates(parsed.items)
    if not parsed.rows and not parsed.items:
        raise no_results_error(parsed, paths, fmt)
    return parsed


def no_results_error(parsed: Parsed, paths: Sequence[str], fmt: str) -> InputError:
    """The error of an import that read no row: why (values dropped, files skipped) and the fix."""
    why = []
    if parsed.dropped:
        example = f", e.g. {parsed.dropped_examples[0]}" if parsed.dropped_examples else ""
        why.append(f"{parsed.dropped} value(s) were missing or NaN and dropped{example}")
    if parsed.skipped:
        why.append(f"{len(parsed.skipped)} bad file(s) or record(s) skipped")
    return InputError(
        f"no results read from {', '.join(paths[:3])}" + (f" ({'; '.join(why)})" if why else ""),
        fix=f"check that the files are {fmt} results with numbers in them "
        "(betr results import --help)",
    )


def _check_item_duplicates(items: list[dict[str, Any]]) -> None:
    seen: dict[tuple[Any, ...], str] = {}
    for it in items:
        key = (*(it.get(k) for k in KEY_FIELDS if k != "metric"), it["item"])
        if key in seen:
            raise InputError(
                f"item '{it['item']}' of {it['benchmark']} for run {it['run']} appears twice "
                f"({seen[key]} and {it['source']})",
                fix="import each samples file once",
            )
        seen[key] = str(it["source"])
