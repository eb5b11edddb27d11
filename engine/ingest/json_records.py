"""JSON from files, for every importer that reads JSON (documents, benchmarks, traces,
evaluation results): `iter_json_records` (JSON Lines, or a JSON array of records) and
`load_json_document` (one whole JSON value), both decompressing by the file's name (.gz, .zst).

Invariants: lines end at "\n" only (U+2028, U+2029 and U+0085 inside a string are text); no
line is held in memory beyond `MAX_RECORD_BYTES`; a bad record is an InputError *value* naming
the file and line (the caller skips or stops), a bad file raises. What JSON can spell but a
UTF-8 database cannot store or Python cannot parse safely is such an error too: nesting deeper
than the parser's recursion limit, an integer of more than 4300 digits, an unpaired surrogate
escape ("\ud800"), named by its field ("a.b[2]").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from engine.errors import InputError
from engine.ingest.records import SKIP_FIX, Record, json_kind
from engine.ingest.sources import Source
from engine.ingest.streams import (
    COMPRESSIONS,
    MAX_RECORD_BYTES,
    MiB,
    check_not_misnamed,
    decompression_error,
    decompression_error_types,
    first_line,
    guarded,
    open_decompressed,
    size_text,
)


def iter_json_records(
    source: Source, *, any_array: bool = False, limit: int = MAX_RECORD_BYTES
) -> Iterator[Record | InputError]:
    """The records of a JSON Lines file (a Record per non-blank line; lines split on "\n"
    only, so U+2028, U+2029 and U+0085 inside strings are text), or of a JSON array (item N
    is record N) when the file is named .json (with any_array: whatever its name) and starts
    with '['. A bad record comes as its InputError, in file order; a bad file raises."""
    return guarded(json_lines(source, limit, any_array=any_array), source, "jsonl")


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

    raw = next(guarded(read(), source, "JSON"))
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


def json_lines(
    source: Source, limit: int, *, any_array: bool = False
) -> Iterator[Record | InputError]:
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
            f"expected a JSON array of objects, got {json_kind(data)}",
            file=source.name,
            fix="give a JSON array of records, or JSONL (one object per line)",
        )
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
                file=source.name,
                line=i,
                unit="item",
                fix=SKIP_FIX,
            )


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
                f"line {lineno} is longer than {size_text(limit)} ({size_text(size)}), the limit for one "
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
