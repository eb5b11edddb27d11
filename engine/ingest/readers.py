"""Record readers for document files: JSONL (.gz/.zst), CSV, Parquet, Arrow (HF save_to_disk).

Every reader yields `Record`s that know their file and line (or row), so every error can name
where it happened. Anything that goes wrong while reading becomes an `InputError` with a fix;
no other exception type escapes (tests/unit/test_fuzz_readers.py holds us to that).

Two kinds of errors: a bad *record* (malformed JSON, invalid UTF-8, a ragged CSV row) is
skipped with `skip_bad=True` and reported to `on_skip`; a bad *file* (missing, empty, truncated
or corrupt compression, unreadable Parquet/Arrow) always raises.

JSON records come from engine.ingest.json_records, which every importer that reads JSON
shares (documents, benchmarks, traces, evaluation results).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

from engine.errors import InputError, UsageError
from engine.ingest.docfields import extract_doc
from engine.ingest.json_records import iter_json_records, json_lines, load_json_document
from engine.ingest.records import SKIP_FIX, Record, json_kind
from engine.ingest.sources import PathSource, Source
from engine.ingest.streams import (
    COMPRESSIONS,
    FORMATS,
    MAX_RECORD_BYTES,
    arrow_shards,
    check_not_misnamed,
    decompression_error,
    decompression_error_types,
    detect_format,
    expand_sources,
    first_line,
    guarded,
    open_decompressed,
    open_source,
    size_text,
)

__all__ = [  # what importers use: finding and opening files live in engine.ingest.streams,
    # the Record in engine.ingest.records, documents out of records in engine.ingest.docfields
    "FORMATS",
    "MAX_RECORD_BYTES",
    "Record",
    "arrow_shards",
    "detect_format",
    "expand_sources",
    "extract_doc",
    "iter_json_records",
    "iter_records",
    "json_kind",
    "load_json_document",
    "open_decompressed",
]


# -- the entry point ----------------------------------------------------------------------------
def iter_records(
    source: Source,
    fmt: str | None = None,
    *,
    skip_bad: bool = False,
    on_skip: Callable[[InputError], None] | None = None,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> Iterator[Record]:
    """Yield the records of `source` in file order.

    A bad record raises InputError, or with `skip_bad` goes to `on_skip` and is skipped.
    `max_record_bytes` bounds one JSONL/CSV line (bytes, after decompression). A file without
    any record is an error either way.
    """
    fmt = fmt or detect_format(source.name)
    readers = {"jsonl": json_lines, "csv": _csv, "parquet": _parquet, "arrow": _arrow}
    if fmt not in readers:
        raise UsageError(f"unknown record format '{fmt}'", fix=f"use one of: {', '.join(FORMATS)}")
    n_good = n_bad = 0
    for item in guarded(readers[fmt](source, max_record_bytes), source, fmt):
        if isinstance(item, InputError):
            if not skip_bad:
                raise item
            n_bad += 1
            if on_skip is not None:
                on_skip(item)
            continue
        n_good += 1
        yield item
    if n_good == 0 and n_bad == 0:
        raise InputError(
            "file is empty (no records)",
            file=source.name,
            fix="check that this is the file you meant; an empty file cannot be imported",
        )
    if n_good == 0:
        raise InputError(
            f"no readable records ({n_bad} bad records skipped)",
            file=source.name,
            fix="check the file type and its contents",
        )


# -- CSV ----------------------------------------------------------------------------------------
def _csv(source: Source, limit: int) -> Iterator[Record | InputError]:
    """csv.reader over the decoded stream (newline='' semantics), so quoted fields may hold
    commas and newlines; a record's line is the line it starts on. The first row is the header."""
    csv.field_size_limit(max(limit, csv.field_size_limit()))
    with open_decompressed(source) as stream:
        if not source.name.lower().endswith(COMPRESSIONS):
            check_not_misnamed(source, stream)
        # surrogateescape: an invalid byte becomes one bad cell, reported with its line
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
        lines = _bounded_text_lines(source, text, limit)
        reader = csv.reader(lines)
        header: list[str] | None = None
        start = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield InputError(f"bad CSV: {exc}", file=source.name, line=start, fix=SKIP_FIX)
                start = reader.line_num + 1
                continue
            line, start = start, reader.line_num + 1
            if not row or not any(cell.strip() for cell in row):
                continue  # blank lines
            problem = _bad_cells(row, header)
            if header is None:
                if problem is not None:
                    raise InputError(f"header row: {problem}", file=source.name, line=line)
                header = _check_header(source, row, line)
                continue
            if problem is None and len(row) != len(header):
                problem = f"has {len(row)} fields but the header has {len(header)}"
            if problem is not None:
                yield InputError(
                    problem,
                    file=source.name,
                    line=line,
                    fix="quote fields that contain commas or newlines; " + SKIP_FIX,
                )
                continue
            yield Record(source.name, line, "line", dict(zip(header, row, strict=True)))


def _bounded_text_lines(source: Source, text: io.TextIOWrapper, limit: int) -> Iterator[str]:
    """Physical lines for csv.reader, each at most `limit` characters (a longer one is a
    file-level error: the CSV parser cannot resynchronise inside it)."""
    decompression_errors = decompression_error_types()
    n = 0
    while True:
        try:
            line = text.readline(limit + 1)
        except decompression_errors as exc:
            raise decompression_error(source, exc, n) from None
        if not line:
            return
        n += 1
        if len(line) > limit and not line.endswith(("\n", "\r")):
            raise InputError(
                f"line {n} is longer than {size_text(limit)}, the limit for one record",
                file=source.name,
                line=n,
                fix="check that this is a CSV file with one record per line",
            )
        yield line


def _bad_cells(row: list[str], header: list[str] | None) -> str | None:
    """Why a row's cells cannot be text (invalid UTF-8, NUL bytes), or None."""
    for i, cell in enumerate(row):
        column = f"column '{header[i]}'" if header and i < len(header) else f"column {i + 1}"
        if "\x00" in cell:
            return f"looks like a binary file, not CSV text (NUL byte in {column})"
        for j, ch in enumerate(cell):
            if "\udc80" <= ch <= "\udcff":
                return f"invalid UTF-8 in {column} (character {j + 1})"
    return None


def _check_header(source: Source, row: list[str], line: int) -> list[str]:
    names = [cell.strip() for cell in row]
    if not all(names):
        raise InputError(
            "the header row has an empty column name",
            file=source.name,
            line=line,
            fix="a CSV file needs a header row naming every column, e.g. id,text",
        )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(
            f"the header row repeats column names: {', '.join(duplicates)}",
            file=source.name,
            line=line,
            fix="give every column a unique name",
        )
    return names


# -- Parquet and Arrow --------------------------------------------------------------------------
def _parquet(source: Source, limit: int) -> Iterator[Record | InputError]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        data = _binary_input(source)
        batches = pq.ParquetFile(data).iter_batches(batch_size=1024)
    except (pa.ArrowException, OSError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise _unreadable(source, "Parquet", exc) from None
    yield from _rows(source, "Parquet", batches)


def _arrow(source: Source, limit: int) -> Iterator[Record | InputError]:
    """An Arrow IPC stream (what HF save_to_disk writes) or an Arrow IPC file."""
    import pyarrow as pa

    try:
        data = _binary_input(source)
        is_file_format = data.read(6) == b"ARROW1"
        data.seek(0)
        if is_file_format:
            reader = pa.ipc.open_file(data)
            batches: Iterator[Any] = (reader.get_batch(i) for i in range(reader.num_record_batches))
        else:
            batches = iter(pa.ipc.open_stream(data))
    except (pa.ArrowException, OSError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise _unreadable(source, "Arrow", exc) from None
    yield from _rows(source, "Arrow", batches)


def _binary_input(source: Source) -> Any:
    """A seekable pyarrow input: the file memory-mapped, or a zip member's bytes in memory."""
    import pyarrow as pa

    with open_source(source) as fh:  # the same "no such file" messages as the text formats
        if isinstance(source, PathSource):
            size = source.path.stat().st_size
            data = pa.memory_map(str(source.path)) if size else None
        else:
            raw = fh.read()
            size = len(raw)
            data = pa.BufferReader(raw)
    if not size:
        raise InputError(
            "file is empty (no records)",
            file=source.name,
            fix="check that this is the file you meant; an empty file cannot be imported",
        )
    return data


def _rows(source: Source, what: str, batches: Iterator[Any]) -> Iterator[Record]:
    import pyarrow as pa

    row = 0
    while True:
        try:
            batch = next(batches, None)
            rows = batch.to_pylist() if batch is not None else None
        except (pa.ArrowException, OSError, ValueError, TypeError, IndexError, KeyError) as exc:
            raise _unreadable(source, what, exc, after_row=row) from None
        if rows is None:
            return
        for data in rows:
            row += 1
            yield Record(source.name, row, "row", data)


def _unreadable(source: Source, what: str, exc: BaseException, after_row: int = 0) -> InputError:
    where = f" after row {after_row}" if after_row else ""
    return InputError(
        f"not a readable {what} file{where}: {first_line(exc)}",
        file=source.name,
        fix=f"check that the file is complete and really {what} (re-create it if truncated)",
    )
