"""Eval-results files -> long rows (pure: no workspace, no SQL), one module per format, each
registered in RESULT_FORMATS (name -> ResultFormat).

`parse_results(paths, fmt, ...)` reads one format and returns `Parsed`: long rows
{run, size, params, tokens, step, stage, benchmark, category (None unless the file gives one:
the workspace's map fills it), metric, value, attrs, source} and per-item rows {run, size,
params, tokens, step, stage, benchmark, item, gold, logliks, source}.

Formats: `lm-eval` (lmeval: results JSON v0.3 and v0.4, samples_*.jsonl), `dclm` (dclm),
`datadecide` (datadecide), `csv` (long_csv, also read in batches: `ResultFormat.stream`); what
they share is in rows. A new format is one module with a `parse(paths, parsed, options)`, one
entry in RESULT_FORMATS and one test.

Rules shared by every format:
- A NaN, missing or "N/A" value is dropped and counted (`dropped`), never stored.
- Two rows with the same key (run, size, tokens, step, stage, benchmark, metric) are an error
  naming the key and both sources.
- A file of an unknown shape is an error naming the file and what was expected; with skip_bad
  it is skipped and reported (`skipped`) instead, adding nothing.
- stage: the stage of rows whose file does not name one (default "PT").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError, UsageError
from engine.ingest.results.datadecide import parse_datadecide
from engine.ingest.results.dclm import parse_dclm
from engine.ingest.results.lmeval import parse_lmeval
from engine.ingest.results.long_csv import iter_long_csv, parse_long_csv
from engine.ingest.results.rows import (
    DEFAULT_STAGE,
    KEY_FIELDS,
    Parsed,
    ReadOptions,
    as_float,
    check_duplicates,
    describe_key,
    parse_columns,
    parse_count,
    size_from_name,
    size_label,
)

__all__ = [
    "DEFAULT_STAGE",
    "KEY_FIELDS",
    "RESULT_FORMATS",
    "Parsed",
    "ReadOptions",
    "ResultFormat",
    "as_float",
    "describe_key",
    "no_results_error",
    "parse_columns",
    "parse_count",
    "parse_results",
    "size_from_name",
    "size_label",
]

Parse = Callable[[Sequence[str], Parsed, ReadOptions], None]
Stream = Callable[
    [Sequence[str], Parsed, ReadOptions, Callable[[int], None] | None],
    Iterator[list[dict[str, Any]]],
]


@dataclass(frozen=True)
class ResultFormat:
    """One format of eval-results files.

    parse(paths, parsed, options): every row and item of the files into `parsed`.
    stream(paths, parsed, options, on_total): the rows a batch at a time instead (a format
    whose files can be larger than memory); `on_total(rows)` before each file's rows.
    takes_columns: the format maps its columns to fields with --columns.
    """

    summary: str
    parse: Parse
    stream: Stream | None = None
    takes_columns: bool = False


RESULT_FORMATS: dict[str, ResultFormat] = {
    "lm-eval": ResultFormat(
        "lm-evaluation-harness results JSON (v0.3, v0.4) and v0.4 samples_*.jsonl", parse_lmeval
    ),
    "dclm": ResultFormat("DCLM's model database CSV and eval JSONs", parse_dclm),
    "datadecide": ResultFormat("DataDecide rows (CSV or JSONL)", parse_datadecide),
    "csv": ResultFormat(
        "a long CSV: one row per run, benchmark and metric (--columns maps yours)",
        parse_long_csv,
        stream=iter_long_csv,
        takes_columns=True,
    ),
}


def result_format(fmt: str) -> ResultFormat:
    """The registered format named `fmt` (a UsageError naming the known ones otherwise)."""
    try:
        return RESULT_FORMATS[fmt]
    except KeyError:
        raise UsageError(
            f"unknown results format '{fmt}'", fix=f"use one of {', '.join(RESULT_FORMATS)}"
        ) from None


def check_columns(fmt: str, columns: dict[str, str] | None) -> None:
    """--columns only for a format that takes them."""
    if columns is not None and not result_format(fmt).takes_columns:
        takes = [name for name, f in RESULT_FORMATS.items() if f.takes_columns]
        raise UsageError(
            f"--columns is for --format {' or '.join(takes)} only", fix="drop --columns"
        )


def format_names(separator: str = "|") -> str:
    """The registered format names, e.g. for a hint: lm-eval|dclm|datadecide|csv."""
    return separator.join(RESULT_FORMATS)


def parse_results(
    paths: Sequence[str],
    fmt: str,
    *,
    columns: dict[str, str] | None = None,
    skip_bad: bool = False,
    stage: str | None = None,
) -> Parsed:
    """Every file of `paths` in format `fmt` -> Parsed (duplicates are an InputError)."""
    reader = result_format(fmt)
    check_columns(fmt, columns)
    parsed = Parsed()
    reader.parse(paths, parsed, ReadOptions(stage or DEFAULT_STAGE, skip_bad, columns))
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
