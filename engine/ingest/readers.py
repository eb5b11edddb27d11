"""Record readers for document files: JSONL (.gz/.zst), CSV, Parquet, Arrow (HF save_to_disk).

Every reader yields `Record`s that know their file and line (or row), so every error can name
where it happened. Anything that goes wrong while reading becomes an `InputError` with a fix;
no other exception type escapes (tests/unit/test_fuzz_readers.py holds us to that).

Two kinds of errors: a bad *record* (malformed JSON, invalid UTF-8, a ragged CSV row) is
skipped with `skip_bad=True` and reported to `on_skip`; a bad *file* (missing, empty, truncated
or corrupt compression, unreadable Parquet/Arrow) always raises.

JSON from any importer (documents, benchmarks, traces, evaluation results) is read here:
`iter_json_records` (JSON Lines, split on "\n" only, or a JSON array) and `load_json_document`
(one whole JSON value), both decompressing by name (.gz, .zst). Whatever JSON can spell but a
UTF-8 database cannot store or Python cannot parse safely is a precise error: nesting deeper
than the parser's recursion limit, an integer of more than 4300 digits, an unpaired surrogate
escape ("\ud800", named by its field).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import zlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from engine.errors import InputError, UsageError
from engine.ingest.docfields import extract_doc
from engine.ingest.records import SKIP_FIX, Record, json_kind
from engine.ingest.sources import PathSource, Source
from engine.ingest.streams import (
    COMPRESSIONS,
    FORMATS,
    MiB,
    arrow_shards,
    check_not_misnamed,
    decompression_error,
    decompression_error_types,
    detect_format,
    expand_sources,
    first_line,
    open_decompressed,
    open_source,
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
    "lone_surrogate_field",
    "open_decompressed",
]

MAX_RECORD_BYTES = 32 * MiB


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
    readers = {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet, "arrow": _arrow}
    if fmt not in readers:
        raise UsageError(f"unknown record format '{fmt}'", fix=f"use one of: {', '.join(FORMATS)}")
    n_good = n_bad = 0
    for item in _guarded(readers[fmt](source, max_record_bytes), source, fmt):
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


def _guarded(items: Iterator[Any], source: Source, fmt: str) -> Iterator[Any]:
    """Last line of defence: a library exception the readers did not anticipate becomes an
    InputError about the whole file. (Only library error types: a bug still shows as a bug.)"""
    try:
        yield from items
    except InputError:
        raise
    except _library_errors() as exc:
        raise InputError(
            f"cannot read this {fmt} file: {first_line(exc)}",
            file=source.name,
            fix="check that the file is complete and of the type its name says",
        ) from None


def _library_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, EOFError, zlib.error, csv.Error, ValueError]
    with contextlib.suppress(ImportError):
        import zstandard

        errors.append(zstandard.ZstdError)
    with contextlib.suppress(ImportError):
        import pyarrow as pa

        errors.append(pa.ArrowException)
    return tuple(errors)


def _size(n: int) -> str:
    """A byte count for messages: '32 MiB', '50.0 MiB', '100 bytes'."""
    if n >= MiB:
        return f"{n // MiB} MiB" if n % MiB == 0 else f"{n / MiB:.1f} MiB"
    return f"{n} bytes"


# -- JSON ---------------------------------------------------------------------------------------
def iter_json_records(
    source: Source, *, any_array: bool = False, limit: int = MAX_RECORD_BYTES
) -> Iterator[Record | InputError]:
    """The records of a JSON Lines file (a Record per non-blank line; lines split on "\n"
    only, so U+2028, U+2029 and U+0085 inside strings are text), or of a JSON array (item N
    is record N) when the file is named .json (with any_array: whatever its name) and starts
    with '['. A bad record comes as its InputError, in file order; a bad file raises."""
    return _guarded(_jsonl(source, limit, any_array=any_array), source, "jsonl")


def load_json_document(source: Source) -> Any:
    """The one JSON value a file holds (decompressed by its name), or an InputError naming
    the file, the line and what is wrong (module doc)."""

    def read() -> Iterator[bytes]:
        with open_decompressed(source) as stream:
            if not source.name.lower().endswith(COMPRESSIONS):
                check_not_misnamed(source, stream)
            try:
                yield stream.read()
            except decompression_error_types() as exc:
                raise decompression_error(source, exc, 0) from None

    raw = next(_guarded(read(), source, "JSON"))
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"invalid UTF-8 at byte {exc.start + 1}",
            file=source.name,
            line=line,
            fix="re-encode the file as UTF-8 (compressed files need a .gz or .zst name)",
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON: {exc.msg} (column {exc.colno})",
            file=source.name,
            line=exc.lineno,
            fix="check that the file is complete and is one JSON value",
        ) from None
    except RecursionError:
        raise InputError(
            "malformed JSON: nested too deeply", file=source.name, fix="check the file"
        ) from None
    except ValueError as exc:  # an integer with more than 4300 digits
        raise InputError(
            f"malformed JSON: {first_line(exc)}", file=source.name, fix="check the file"
        ) from None
    bad = lone_surrogate_field(data) if _SURROGATE_ESCAPE.search(text) else None
    if bad is not None:
        raise InputError(SURROGATE_MESSAGE, file=source.name, field=bad, fix="fix that text")
    return data


# a surrogate escape (\ud800-\udfff): only then can a parsed value hold an unpaired surrogate
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_MESSAGE = (
    "holds an unpaired surrogate escape (e.g. \\ud800 without its pair), which is not "
    "valid Unicode text"
)


def lone_surrogate_field(value: Any, path: str = "") -> str | None:
    """The path ("a.b[2]") of the first string (or key) in a parsed JSON value that holds an
    unpaired surrogate, or None. Iterative: a deeply nested value does not recurse."""
    stack = [(path, value)]
    while stack:
        where, v = stack.pop()
        if isinstance(v, str):
            if _SURROGATE.search(v):
                return where or "(the value)"
        elif isinstance(v, dict):
            for k, item in reversed(list(v.items())):
                name = f"{where}.{k}" if where else str(k)
                if _SURROGATE.search(str(k)):
                    return name
                stack.append((name, item))
        elif isinstance(v, list):
            stack.extend((f"{where}[{i}]", item) for i, item in reversed(list(enumerate(v))))
    return None


def _jsonl(source: Source, limit: int, *, any_array: bool = False) -> Iterator[Record | InputError]:
    with open_decompressed(source) as stream:
        if not source.name.lower().endswith(COMPRESSIONS):
            check_not_misnamed(source, stream)
        if any_array or source.name.lower().removesuffix(".gz").removesuffix(".zst").endswith(
            ".json"
        ):
            head = stream.peek(64)[:64] if hasattr(stream, "peek") else b""
            if head.lstrip()[:1] == b"[":  # a JSON array of records (one file, one document)
                yield from _json_array(source, stream)
                return
        for item in _numbered_lines(source, stream, limit):
            if isinstance(item, InputError):
                yield item
                continue
            lineno, raw = item
            yield _parse_json_line(source, lineno, raw)


def _json_array(source: Source, stream: BinaryIO) -> Iterator[Record | InputError]:
    """A `.json` file holding one array of objects: item N (1-based) is record N."""
    try:
        raw = stream.read()
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        yield InputError(
            f"malformed JSON array: {exc}",
            file=source.name,
            fix="fix the file, or convert it to JSONL (one object per line)",
        )
        return
    except RecursionError:
        yield InputError("malformed JSON array: nested too deeply", file=source.name, fix=SKIP_FIX)
        return
    except ValueError as exc:  # an integer with more than 4300 digits
        yield InputError(f"malformed JSON array: {first_line(exc)}", file=source.name, fix=SKIP_FIX)
        return
    if not isinstance(data, list):
        yield InputError(
            f"expected a JSON array of objects, got {json_kind(data)}", file=source.name,
            fix="give a JSON array of records, or JSONL (one object per line)",
        )  # fmt: skip
        return
    check = bool(_SURROGATE_ESCAPE_BYTES.search(raw))
    for i, item in enumerate(data, 1):
        bad = lone_surrogate_field(item) if check else None
        if bad is not None:
            yield InputError(
                SURROGATE_MESSAGE, file=source.name, line=i, unit="item", field=bad, fix=SKIP_FIX
            )
        elif isinstance(item, dict):
            yield Record(source.name, i, "item", item)
        else:
            yield InputError(
                f"expected a JSON object, got {json_kind(item)}",
                file=source.name, line=i, unit="item", fix=SKIP_FIX,
            )  # fmt: skip


def _numbered_lines(
    source: Source, stream: BinaryIO, limit: int
) -> Iterator[tuple[int, bytes] | InputError]:
    """(line number, raw bytes) per non-blank line, never holding more than `limit` + 1 bytes
    of one line in memory; an over-long line becomes an error and is skipped over."""
    decompression_errors = decompression_error_types()
    lineno = 0
    while True:
        try:
            line = stream.readline(limit + 1)
        except decompression_errors as exc:
            raise decompression_error(source, exc, lineno) from None
        if not line:
            return
        lineno += 1
        if len(line) > limit and not line.endswith(b"\n"):
            try:
                size = len(line) + _skip_rest_of_line(stream)
            except decompression_errors as exc:
                raise decompression_error(source, exc, lineno - 1) from None
            yield InputError(
                f"line {lineno} is longer than {_size(limit)} ({_size(size)}), the limit for one "
                "record",
                file=source.name,
                line=lineno,
                fix="split that document into smaller ones, or check that this is a JSONL file "
                "(one JSON object per line); --skip-bad skips it",
            )
            continue
        if line.strip():
            yield lineno, line


def _skip_rest_of_line(stream: BinaryIO) -> int:
    """Read up to and including the next newline in bounded chunks; returns bytes skipped."""
    skipped = 0
    while chunk := stream.readline(MiB):
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return skipped


def _parse_json_line(source: Source, lineno: int, raw: bytes) -> Record | InputError:
    where = {"file": source.name, "line": lineno}
    nul = raw.find(b"\x00")
    if nul >= 0:
        return InputError(
            f"looks like a binary file, not JSON Lines text (NUL byte at byte {nul + 1})",
            fix="check the file type; compressed files need a .gz or .zst name",
            **where,
        )
    if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte order mark (some Windows tools write one)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return InputError(
            f"invalid UTF-8 at byte {exc.start + 1}",
            fix="re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8), or pass "
            "--skip-bad to skip bad records",
            **where,
        )
    text = text.rstrip("\r\n")  # so that an error at the end points into the line
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return InputError(
            f"malformed JSON: {exc.msg} (column {exc.pos + 1})", fix=_json_fix(text), **where
        )
    except RecursionError:
        return InputError("malformed JSON: nested too deeply", fix=SKIP_FIX, **where)
    except ValueError as exc:  # e.g. an integer with more than 4300 digits
        return InputError(f"malformed JSON: {first_line(exc)}", fix=SKIP_FIX, **where)
    if not isinstance(data, dict):
        return InputError(f"expected a JSON object, got {json_kind(data)}", fix=SKIP_FIX, **where)
    if _SURROGATE_ESCAPE.search(text):
        bad = lone_surrogate_field(data)
        if bad is not None:
            return InputError(SURROGATE_MESSAGE, field=bad, fix=SKIP_FIX, **where)
    return Record(source.name, lineno, "line", data)


def _json_fix(text: str) -> str:
    if text.strip() in ("[", "{"):
        # a pretty-printed JSON document, not one object per line
        return "this looks like one JSON document, not JSON Lines; convert it, e.g. jq -c '.[]'"
    return SKIP_FIX


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
                f"line {n} is longer than {_size(limit)}, the limit for one record",
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
