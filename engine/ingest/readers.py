"""Record readers for document files: JSONL (.gz/.zst), CSV, Parquet, Arrow (HF save_to_disk).

Every reader yields `Record`s that know their file and line (or row), so every error can name
where it happened. Anything that goes wrong while reading becomes an `InputError` with a fix;
no other exception type escapes (a hypothesis fuzz test holds us to that).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import InputError, UsageError
from engine.ingest.sources import PathSource, Source

MAX_RECORD_BYTES = 32 * 2**20
SKIP_FIX = "fix or delete that line, or pass --skip-bad to skip bad records"
FORMATS = ("jsonl", "csv", "parquet", "arrow")
SUFFIXES = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".arrow": "arrow",
}


@dataclass(frozen=True, slots=True)
class Record:
    source: str
    line: int  # 1-based line (JSONL/CSV) or row (Parquet/Arrow)
    unit: str  # "line" or "row"
    data: dict


def detect_format(path_or_name: str | Path) -> str:
    """'jsonl' | 'csv' | 'parquet' | 'arrow' from the file name (.gz/.zst allowed on text)."""
    name = str(path_or_name).lower()
    if Path(path_or_name).is_dir():
        return "arrow"
    base = name
    for comp in (".gz", ".zst"):
        if base.endswith(comp):
            base = base[: -len(comp)]
    for suffix, fmt in SUFFIXES.items():
        if base.endswith(suffix):
            if base != name and fmt in ("parquet", "arrow"):
                break  # compressed binary formats are not a thing
            return fmt
    raise UsageError(
        f"{path_or_name}: unknown file type",
        fix="supported: .jsonl/.json/.ndjson and .csv (optionally .gz or .zst), .parquet, "
        ".arrow, and HF datasets directories (save_to_disk)",
    )


def expand_sources(paths: list[str | Path]) -> list[Source]:
    """Files as they are; an HF arrow directory as its *.arrow files in order."""
    sources: list[Source] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise InputError(
                "no such file or directory", file=str(path), fix="check the path and try again"
            )
        if path.is_dir():
            arrows = sorted(path.rglob("*.arrow"))
            if not arrows:
                raise InputError(
                    "is a directory without .arrow files (not an HF datasets save_to_disk dir)",
                    file=str(path),
                    fix="pass the data files themselves, or a datasets directory",
                )
            sources.extend(PathSource(a) for a in arrows)
        else:
            detect_format(path)
            sources.append(PathSource(path))
    return sources


def iter_records(
    source: Source,
    fmt: str | None = None,
    *,
    skip_bad: bool = False,
    on_skip: Callable[[InputError], None] | None = None,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> Iterator[Record]:
    """Yield the records of `source`. Bad records raise InputError, or with skip_bad go to
    `on_skip` and are skipped. A file with no records at all is an error either way."""
    fmt = fmt or detect_format(source.name)
    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{fmt}'", fix=f"use one of: {', '.join(FORMATS)}")
    reader = {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet, "arrow": _arrow}[fmt]
    n = 0
    try:
        for item in reader(source, max_record_bytes):
            if isinstance(item, InputError):
                if not skip_bad:
                    raise item
                if on_skip is not None:
                    on_skip(item)
                continue
            n += 1
            yield item
    except InputError:
        raise
    except (OSError, EOFError, zlib.error, ValueError, RuntimeError) as exc:
        raise InputError(
            f"cannot read file: {exc}",
            file=source.name,
            fix="check that the file is complete and of the type its name says",
        ) from None
    if n == 0:
        raise InputError(
            "file is empty (no records)" if not skip_bad else "no readable records",
            file=source.name,
            fix="check the path; a JSONL file needs one JSON object per line",
        )


def open_text_stream(source: Source) -> BinaryIO:
    raw = source.open()
    name = source.name.lower()
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if name.endswith(".zst"):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)  # type: ignore[return-value]
    return raw


def _zstd_errors() -> tuple[type[BaseException], ...]:
    try:
        import zstandard

        return (zstandard.ZstdError,)
    except ImportError:  # pragma: no cover
        return ()


def _lines(source: Source, limit: int) -> Iterator[tuple[int, bytes] | InputError]:
    """(line number, raw bytes) per non-blank line; over-long lines become errors."""
    zstd_errors = _zstd_errors()
    try:
        with open_text_stream(source) as fh:
            buffered = io.BufferedReader(fh, 1 << 20) if not hasattr(fh, "peek") else fh
            lineno = 0
            while True:
                line = buffered.readline(limit + 1)
                if not line:
                    return
                lineno += 1
                if len(line) > limit and not line.endswith(b"\n"):
                    size = len(line)
                    while chunk := buffered.readline(1 << 20):  # skip the rest of the line
                        size += len(chunk)
                        if chunk.endswith(b"\n"):
                            break
                    yield InputError(
                        f"line is longer than {limit // 2**20} MiB ({size / 2**20:.1f} MiB): "
                        "not a JSONL record (a binary file, or a file without newlines?)",
                        file=source.name,
                        line=lineno,
                        fix="split the document, or check the file type",
                    )
                    continue
                if line.strip():
                    yield lineno, line
    except zstd_errors as exc:
        raise InputError(
            f"corrupt or truncated zstd data: {exc}", file=source.name, fix="re-create the file"
        ) from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(
            f"corrupt or truncated gzip data: {exc}", file=source.name, fix="re-create the file"
        ) from None


def _decode(source: Source, lineno: int, line: bytes) -> str | InputError:
    if b"\x00" in line:
        return InputError(
            "contains NUL bytes: this looks like a binary file, not text",
            file=source.name,
            line=lineno,
            fix="check the file type (JSONL, CSV, Parquet...)",
        )
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return InputError(
            f"invalid UTF-8 at byte {exc.start + 1} of the line",
            file=source.name,
            line=lineno,
            fix="re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8), or pass --skip-bad",
        )


def _jsonl(source: Source, limit: int) -> Iterator[Record | InputError]:
    for item in _lines(source, limit):
        if isinstance(item, InputError):
            yield item
            continue
        lineno, raw = item
        text = _decode(source, lineno, raw)
        if isinstance(text, InputError):
            yield text
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield InputError(
                f"malformed JSON: {exc.msg} (column {exc.colno})",
                file=source.name,
                line=lineno,
                fix=SKIP_FIX,
            )
            continue
        except RecursionError:
            yield InputError("JSON nested too deeply", file=source.name, line=lineno, fix=SKIP_FIX)
            continue
        if not isinstance(data, dict):
            yield InputError(
                f"expected a JSON object, got {type(data).__name__ if data is not None else 'null'}",
                file=source.name,
                line=lineno,
                fix=SKIP_FIX,
            )
            continue
        yield Record(source.name, lineno, "line", data)


def _csv(source: Source, limit: int) -> Iterator[Record | InputError]:
    """csv.reader over the decoded stream, so quoted fields may hold commas and newlines."""
    csv.field_size_limit(limit)
    with open_text_stream(source) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")
        reader = csv.reader(text)
        header: list[str] | None = None
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"invalid UTF-8 ({exc.reason})",
                    file=source.name,
                    line=reader.line_num + 1,
                    fix="re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
                ) from None
            except csv.Error as exc:
                hint = " (a binary file?)" if "NUL" in str(exc) else ""
                raise InputError(
                    f"bad CSV: {exc}{hint}",
                    file=source.name,
                    line=reader.line_num,
                    fix="check the quoting, or that this is a CSV file",
                ) from None
            if not row or not any(cell.strip() for cell in row):
                continue
            if header is None:
                if len(set(row)) != len(row) or not all(h.strip() for h in row):
                    raise InputError(
                        "the header row needs unique, non-empty column names",
                        file=source.name,
                        line=reader.line_num,
                        fix="add a header row such as: id,text",
                    )
                header = row
                continue
            if len(row) != len(header):
                yield InputError(
                    f"has {len(row)} fields, the header has {len(header)}",
                    file=source.name,
                    line=reader.line_num,
                    fix="quote fields that contain commas or newlines, or pass --skip-bad",
                )
                continue
            yield Record(source.name, reader.line_num, "line", dict(zip(header, row, strict=True)))


def _arrow_error(source: Source, what: str, exc: Exception) -> InputError:
    return InputError(
        f"not a readable {what} file: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
        file=source.name,
        fix=f"check that the file is complete and really {what}",
    )


def _rows(source: Source, batches: Iterator[Any]) -> Iterator[Record]:
    row = 0
    for batch in batches:
        for data in batch.to_pylist():
            row += 1
            yield Record(source.name, row, "row", data)


def _parquet(source: Source, limit: int) -> Iterator[Record | InputError]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with source.open() as fh:
            data = fh if fh.seekable() else io.BytesIO(fh.read())
            pf = pq.ParquetFile(data)
            yield from _rows(source, pf.iter_batches(batch_size=1024))
    except (pa.ArrowException, OSError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise _arrow_error(source, "Parquet", exc) from None


def _arrow(source: Source, limit: int) -> Iterator[Record | InputError]:
    """An Arrow IPC stream (what HF save_to_disk writes) or an IPC file."""
    import pyarrow as pa

    try:
        with source.open() as fh:
            data = fh.read()
        try:
            reader = pa.ipc.open_stream(data)
            batches: Iterator[Any] = iter(reader)
        except pa.ArrowInvalid:
            file_reader = pa.ipc.open_file(data)
            batches = (file_reader.get_batch(i) for i in range(file_reader.num_record_batches))
        yield from _rows(source, batches)
    except (pa.ArrowException, OSError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise _arrow_error(source, "Arrow", exc) from None


def _field(data: dict, path: str) -> Any:
    """data["a"]["b"] for "a.b"; KeyError when absent."""
    if path in data:
        return data[path]
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(path)
        value = value[part]
    return value


def extract_doc(
    rec: Record,
    text_field: str = "text",
    id_field: str | None = None,
    meta_fields: tuple[str, ...] = (),
) -> tuple[str, str, dict | None]:
    """(ext_id, text, meta) of a document record, or an InputError naming what is wrong."""
    where = {"file": rec.source, "line": rec.line, "unit": rec.unit}
    try:
        text = _field(rec.data, text_field)
    except KeyError:
        fields = ", ".join(sorted(map(str, rec.data))[:12]) or "none"
        raise InputError(
            f"missing (the record has: {fields})",
            field=text_field,
            fix="name the text field with --text-field NAME, or pass --skip-bad",
            **where,
        ) from None
    if not isinstance(text, str):
        raise InputError(
            f"must be a string, got {type(text).__name__}",
            field=text_field,
            fix="point --text-field at a string field, or pass --skip-bad",
            **where,
        )
    if not text.strip():
        raise InputError(
            "is empty", field=text_field, fix="drop empty documents, or pass --skip-bad", **where
        )
    if id_field is None:
        raw_id = rec.data.get("id")
        ext_id = f"{Path(rec.source).name}:{rec.line}" if raw_id is None else raw_id
    else:
        try:
            ext_id = _field(rec.data, id_field)
        except KeyError:
            raise InputError(
                "missing",
                field=id_field,
                fix="give every record an id, or drop --id-field",
                **where,
            ) from None
    if isinstance(ext_id, bool) or not isinstance(ext_id, str | int):
        raise InputError(
            f"the id must be a string or an integer, got {type(ext_id).__name__}",
            field=id_field or "id",
            fix="use another --id-field",
            **where,
        )
    meta = None
    if meta_fields:
        meta = {}
        for name in meta_fields:
            try:
                meta[name] = _field(rec.data, name)
            except KeyError:
                meta[name] = None
    return str(ext_id), text, meta
