"""Finding and opening document files: the format by the name, HF save_to_disk directories as
their shards, decompression (gzip, zstd frames), and files that are not what their name says.
A truncated or corrupt stream is an `InputError` naming the file and how far it was read."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import InputError, UsageError
from engine.ingest.sources import PathSource, Source

MiB = 2**20
MAX_RECORD_BYTES = 32 * MiB  # one JSON Lines or CSV record, after decompression
FORMATS = ("jsonl", "csv", "parquet", "arrow")
TEXT_SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
BINARY_SUFFIXES = {".parquet": "parquet", ".arrow": "arrow"}
SUPPORTED = (
    ".jsonl, .json, .ndjson or .csv (each optionally compressed: .gz, .zst), .parquet, .arrow, "
    "or a directory written by Hugging Face datasets' save_to_disk"
)
COMPRESSIONS = (".gz", ".zst")
MAGIC = {
    b"\x1f\x8b": ("gzip-compressed", ".gz"),
    b"\x28\xb5\x2f\xfd": ("zstd-compressed", ".zst"),
    b"PAR1": ("a Parquet file", ".parquet"),
    b"ARROW1": ("an Arrow file", ".arrow"),
}
ZSTD_READ_CHUNK = 1 << 14  # compressed bytes fed per step; bounds the decompressed burst


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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


# -- opening and decompressing --------------------------------------------------------------
def open_source(source: Source) -> BinaryIO:
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
        raise InputError(f"cannot open: {first_line(exc)}", file=source.name) from None


@contextlib.contextmanager
def open_decompressed(source: Source) -> Iterator[BinaryIO]:
    """A buffered binary stream of the source's bytes, gunzipped or unzstd'ed by its name."""
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(open_source(source))
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


def decompression_error(source: Source, exc: BaseException, after_line: int) -> InputError:
    where = f"after line {after_line}" if after_line else "at the start"
    return InputError(
        f"the compressed data is truncated or corrupt ({where}): {first_line(exc)}",
        file=source.name,
        fix="re-download or re-create the file; nothing was imported (a damaged file stops "
        "the import, even with --skip-bad)",
    )


def decompression_error_types() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [EOFError, zlib.error, gzip.BadGzipFile]
    with contextlib.suppress(ImportError):
        import zstandard

        errors.append(zstandard.ZstdError)
    return tuple(errors)


def check_not_misnamed(source: Source, stream: BinaryIO) -> None:
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


# -- library errors as errors about the file -------------------------------------------------
def guarded(items: Iterator[Any], source: Source, fmt: str) -> Iterator[Any]:
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


def size_text(n: int) -> str:
    """A byte count for messages: '32 MiB', '50.0 MiB', '100 bytes'."""
    if n >= MiB:
        return f"{n // MiB} MiB" if n % MiB == 0 else f"{n / MiB:.1f} MiB"
    return f"{n} bytes"
