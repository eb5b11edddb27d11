"""Record readers for document files: JSONL (.gz/.zst), CSV, Parquet, Arrow (HF save_to_disk).

Every reader yields `Record`s that know their file and line (or row), so every error can name
where it happened. Anything that goes wrong while reading becomes an `InputError` with a fix;
no other exception type escapes (tests/unit/test_fuzz_readers.py holds us to that).

Two kinds of errors: a bad *record* (malformed JSON, invalid UTF-8, a ragged CSV row) is
skipped with `skip_bad=True` and reported to `on_skip`; a bad *file* (missing, empty, truncated
or corrupt compression, unreadable Parquet/Arrow) always raises.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import InputError, UsageError
from engine.ingest.sources import PathSource, Source

MiB = 2**20
MAX_RECORD_BYTES = 32 * MiB
SKIP_FIX = "fix or delete that line, or pass --skip-bad to skip bad records"
SKIP_ROW_FIX = "fix or delete that row, or pass --skip-bad to skip bad records"
FORMATS = ("jsonl", "csv", "parquet", "arrow")
TEXT_SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
BINARY_SUFFIXES = {".parquet": "parquet", ".arrow": "arrow"}
COMPRESSIONS = (".gz", ".zst")
SUPPORTED = (
    ".jsonl, .json, .ndjson or .csv (each optionally compressed: .gz, .zst), .parquet, .arrow, "
    "or a directory written by Hugging Face datasets' save_to_disk"
)
# first bytes of files that are often misnamed (a gzip saved as .jsonl, ...)
MAGIC = {
    b"\x1f\x8b": ("gzip-compressed", ".gz"),
    b"\x28\xb5\x2f\xfd": ("zstd-compressed", ".zst"),
    b"PAR1": ("a Parquet file", ".parquet"),
    b"ARROW1": ("an Arrow file", ".arrow"),
}
ZSTD_READ_CHUNK = 1 << 14  # compressed bytes fed per step; bounds the decompressed burst


@dataclass(frozen=True, slots=True)
class Record:
    source: str  # the Source's name, as shown in messages
    line: int  # 1-based line (JSONL/CSV: where the record starts) or row (Parquet/Arrow)
    unit: str  # "line" or "row"
    data: dict


# -- naming and finding files -------------------------------------------------------------------
def detect_format(path_or_name: str | Path) -> str:
    """'jsonl' | 'csv' | 'parquet' | 'arrow' from the file name; a directory is an HF arrow dir.

    Text formats may carry a compression suffix (.gz, .zst); binary ones may not.
    """
    with contextlib.suppress(OSError, ValueError):
        if Path(path_or_name).is_dir():
            return "arrow"
    name = Path(str(path_or_name)).name.lower()
    base = name
    for suffix in COMPRESSIONS:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    for suffix, fmt in TEXT_SUFFIXES.items():
        if base.endswith(suffix):
            return fmt
    for suffix, fmt in BINARY_SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    raise UsageError(
        f"{path_or_name}: unknown file type (cannot tell the format from the name)",
        fix=f"supported: {SUPPORTED}",
    )


def expand_sources(paths: Iterable[str | Path]) -> list[Source]:
    """One Source per file; an HF save_to_disk directory becomes its *.arrow shards in order."""
    sources: list[Source] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise InputError(
                "no such file or directory",
                file=str(path),
                fix="check the path (relative paths start from the current directory)",
            )
        if path.is_dir():
            sources.extend(PathSource(shard) for shard in arrow_shards(path))
        else:
            detect_format(path)
            sources.append(PathSource(path))
    return sources


def arrow_shards(directory: Path) -> list[Path]:
    """The data files of an HF `save_to_disk` directory, in the order state.json lists them."""
    listed = _state_json_files(directory)
    if listed:
        return listed
    shards = sorted(directory.glob("*.arrow"))
    if shards:
        return shards
    if (directory / "dataset_dict.json").is_file():
        splits = sorted(p.name for p in directory.iterdir() if p.is_dir())
        raise InputError(
            f"is a dataset with several splits ({', '.join(splits) or 'none found'})",
            file=str(directory),
            fix=f"pass one split's directory, e.g. {directory / (splits[0] if splits else 'test')}",
        )
    raise InputError(
        "is a directory but not a Hugging Face datasets directory (it has no *.arrow files)",
        file=str(directory),
        fix="pass the data files themselves, or a directory written by save_to_disk",
    )


def _state_json_files(directory: Path) -> list[Path]:
    state = directory / "state.json"
    try:
        files = json.loads(state.read_text(encoding="utf-8"))["_data_files"]
        paths = [directory / entry["filename"] for entry in files]
    except (OSError, ValueError, KeyError, TypeError):
        return []  # no usable state.json: fall back to the sorted *.arrow names
    return paths if paths and all(p.is_file() for p in paths) else []


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
            f"cannot read this {fmt} file: {_first_line(exc)}",
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _size(n: int) -> str:
    """A byte count for messages: '32 MiB', '50.0 MiB', '100 bytes'."""
    if n >= MiB:
        return f"{n // MiB} MiB" if n % MiB == 0 else f"{n / MiB:.1f} MiB"
    return f"{n} bytes"


# -- opening and decompressing --------------------------------------------------------------
def _open_source(source: Source) -> BinaryIO:
    """source.open(), with the usual failures turned into file-level InputErrors."""
    try:
        return source.open()
    except FileNotFoundError:
        raise InputError(
            "no such file", file=source.name, fix="check the path and try again"
        ) from None
    except IsADirectoryError:
        raise InputError(
            "is a directory",
            file=source.name,
            fix="pass the files inside it, or a directory written by save_to_disk",
        ) from None
    except PermissionError:
        raise InputError(
            "permission denied", file=source.name, fix="check the file's permissions"
        ) from None
    except KeyError:  # a member missing from a zip
        raise InputError("no such file in the archive", file=source.name) from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot open: {_first_line(exc)}", file=source.name) from None


@contextlib.contextmanager
def open_decompressed(source: Source) -> Iterator[BinaryIO]:
    """A buffered binary stream of the source's bytes, gunzipped or unzstd'ed by its name."""
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(_open_source(source))
        name = source.name.lower()
        stream: BinaryIO
        if name.endswith(".gz"):
            stream = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))  # type: ignore[assignment]
        elif name.endswith(".zst"):
            stream = stack.enter_context(io.BufferedReader(ZstdFrames(raw), MiB))  # type: ignore[assignment]
        elif hasattr(raw, "peek"):
            stream = raw
        else:
            stream = stack.enter_context(io.BufferedReader(raw, MiB))  # type: ignore[arg-type]
        yield stream


class ZstdFrames(io.RawIOBase):
    """Every frame of a zstd stream, decompressed.

    Unlike zstandard's stream_reader, this notices a stream that ends inside a frame (a
    truncated file) and raises EOFError instead of returning the partial data silently.
    """

    def __init__(self, raw: BinaryIO):
        import zstandard

        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._frame = self._dctx.decompressobj()
        self._in_frame = False
        self._pending = b""
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._offset >= len(self._pending):
            chunk = self._raw.read(ZSTD_READ_CHUNK)
            if not chunk:
                if self._in_frame:
                    raise EOFError("zstd data ends in the middle of a frame")
                return 0
            self._pending, self._offset = self._decompress(chunk), 0
        n = min(len(buffer), len(self._pending) - self._offset)
        buffer[:n] = self._pending[self._offset : self._offset + n]
        self._offset += n
        return n

    def _decompress(self, data: bytes) -> bytes:
        out = []
        while data:
            self._in_frame = True
            out.append(self._frame.decompress(data))
            if not self._frame.eof:
                break
            self._in_frame = False  # frame complete; what follows is the next frame
            data = self._frame.unused_data
            self._frame = self._dctx.decompressobj()
        return b"".join(out)


def _decompression_error(source: Source, exc: BaseException, after_line: int) -> InputError:
    where = f"after line {after_line}" if after_line else "at the start"
    return InputError(
        f"the compressed data is truncated or corrupt ({where}): {_first_line(exc)}",
        file=source.name,
        fix="re-download or re-create the file; nothing was imported (a damaged file stops "
        "the import, even with --skip-bad)",
    )


def _decompression_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [EOFError, zlib.error, gzip.BadGzipFile]
    with contextlib.suppress(ImportError):
        import zstandard

        errors.append(zstandard.ZstdError)
    return tuple(errors)


def _check_not_misnamed(source: Source, stream: BinaryIO) -> None:
    """A gzip/zstd/Parquet/Arrow file under a text name fails with a message saying so."""
    try:
        head = stream.peek(8)[:8]  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return
    for magic, (what, suffix) in MAGIC.items():
        if head.startswith(magic):
            name = Path(source.name).name
            raise InputError(
                f"is {what}, but its name does not say so",
                file=source.name,
                fix=f"rename it so that it ends in {suffix} (e.g. {name}{suffix})"
                if suffix in COMPRESSIONS
                else f"rename it to end in {suffix}",
            )


# -- JSONL --------------------------------------------------------------------------------------
def _jsonl(source: Source, limit: int) -> Iterator[Record | InputError]:
    with open_decompressed(source) as stream:
        if not source.name.lower().endswith(COMPRESSIONS):
            _check_not_misnamed(source, stream)
        for item in _numbered_lines(source, stream, limit):
            if isinstance(item, InputError):
                yield item
                continue
            lineno, raw = item
            yield _parse_json_line(source, lineno, raw)


def _numbered_lines(
    source: Source, stream: BinaryIO, limit: int
) -> Iterator[tuple[int, bytes] | InputError]:
    """(line number, raw bytes) per non-blank line, never holding more than `limit` + 1 bytes
    of one line in memory; an over-long line becomes an error and is skipped over."""
    decompression_errors = _decompression_errors()
    lineno = 0
    while True:
        try:
            line = stream.readline(limit + 1)
        except decompression_errors as exc:
            raise _decompression_error(source, exc, lineno) from None
        if not line:
            return
        lineno += 1
        if len(line) > limit and not line.endswith(b"\n"):
            try:
                size = len(line) + _skip_rest_of_line(stream)
            except decompression_errors as exc:
                raise _decompression_error(source, exc, lineno - 1) from None
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
        return InputError(f"malformed JSON: {_first_line(exc)}", fix=SKIP_FIX, **where)
    if not isinstance(data, dict):
        return InputError(f"expected a JSON object, got {_json_kind(data)}", fix=SKIP_FIX, **where)
    return Record(source.name, lineno, "line", data)


def _json_fix(text: str) -> str:
    if text.strip() in ("[", "{"):
        # a pretty-printed JSON document, not one object per line
        return "this looks like one JSON document, not JSON Lines; convert it, e.g. jq -c '.[]'"
    return SKIP_FIX


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bytes | bytearray | memoryview):
        return "binary data (bytes)"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


# -- CSV ----------------------------------------------------------------------------------------
def _csv(source: Source, limit: int) -> Iterator[Record | InputError]:
    """csv.reader over the decoded stream (newline='' semantics), so quoted fields may hold
    commas and newlines; a record's line is the line it starts on. The first row is the header."""
    csv.field_size_limit(max(limit, csv.field_size_limit()))
    with open_decompressed(source) as stream:
        if not source.name.lower().endswith(COMPRESSIONS):
            _check_not_misnamed(source, stream)
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
    decompression_errors = _decompression_errors()
    n = 0
    while True:
        try:
            line = text.readline(limit + 1)
        except decompression_errors as exc:
            raise _decompression_error(source, exc, n) from None
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

    with _open_source(source) as fh:  # the same "no such file" messages as the text formats
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
        f"not a readable {what} file{where}: {_first_line(exc)}",
        file=source.name,
        fix=f"check that the file is complete and really {what} (re-create it if truncated)",
    )


# -- documents out of records -------------------------------------------------------------------
_MISSING = object()


def field_value(data: dict, path: str) -> Any:
    """data["a"]["b"] for "a.b" (an exact key "a.b" wins); _MISSING when absent."""
    if path in data:
        return data[path]
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def extract_doc(
    rec: Record,
    text_field: str = "text",
    id_field: str | None = None,
    meta_fields: tuple[str, ...] = (),
) -> tuple[str, str, dict | None]:
    """(ext_id, text, meta) of a document record; InputError naming the field when it is bad.

    Without `id_field` the record's "id" is used when present, else "<file name>:<line>".
    Missing meta fields are None; `meta` is None when no meta fields were asked for.
    Dotted names ("meta.url") reach into nested objects.
    """
    text = _doc_text(rec, text_field)
    ext_id = _doc_id(rec, id_field)
    meta = None
    if meta_fields:
        meta = {}
        for name in meta_fields:
            value = field_value(rec.data, name)
            meta[name] = None if value is _MISSING else value
        _check_encodable(rec, meta, "a meta field")
    return ext_id, text, meta


def _where(rec: Record) -> dict[str, Any]:
    return {"file": rec.source, "line": rec.line, "unit": rec.unit}


def _skip_fix(rec: Record) -> str:
    return SKIP_FIX if rec.unit == "line" else SKIP_ROW_FIX


def _doc_text(rec: Record, text_field: str) -> str:
    text = field_value(rec.data, text_field)
    if text is _MISSING:
        fields = sorted(map(str, rec.data))
        listed = ", ".join(fields[:20]) + (", ..." if len(fields) > 20 else "") or "none"
        raise InputError(
            f"missing; this record has the fields: {listed}",
            field=text_field,
            fix="name the text field with --text-field NAME, or pass --skip-bad",
            **_where(rec),
        )
    if not isinstance(text, str):
        raise InputError(
            f"must be a string, got {_json_kind(text) if not isinstance(text, dict) else 'an object'}",
            field=text_field,
            fix="point --text-field at a string field; " + _skip_fix(rec),
            **_where(rec),
        )
    if not text.strip():
        raise InputError(
            "is empty (or only whitespace)", field=text_field, fix=_skip_fix(rec), **_where(rec)
        )
    _check_encodable(rec, text, f"field '{text_field}'")
    return text


def _doc_id(rec: Record, id_field: str | None) -> str:
    name = id_field or "id"
    value = field_value(rec.data, name)
    if value is _MISSING or (id_field is None and value is None):
        if id_field is not None:
            raise InputError(
                "missing (the id field given with --id-field)",
                field=id_field,
                fix="give every record an id, or drop --id-field to number them by line",
                **_where(rec),
            )
        return f"{Path(rec.source).name}:{rec.line}"
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(
            "the id must be a string or an integer, got "
            + (_json_kind(value) if not isinstance(value, dict) else "an object"),
            field=name,
            fix="use another --id-field; " + _skip_fix(rec),
            **_where(rec),
        )
    ext_id = str(value)
    if not ext_id.strip():
        raise InputError("the id is empty", field=name, fix=_skip_fix(rec), **_where(rec))
    _check_encodable(rec, ext_id, f"field '{name}'")
    return ext_id


def _check_encodable(rec: Record, value: Any, what: str) -> None:
    """JSON may spell lone surrogates ("\\ud800"), which no UTF-8 database column can store."""
    try:
        if isinstance(value, str):
            value.encode("utf-8")
        else:
            json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{what} holds an unpaired surrogate escape (\\u{ord(exc.object[exc.start]):04x}), "
            "which is not valid Unicode text",
            fix=_skip_fix(rec),
            **_where(rec),
        ) from None
    except (ValueError, TypeError, RecursionError):
        pass  # not JSON-serialisable meta is the importer's concern, not an encoding problem
