"""Shard files of the scale-out executor: which files the inputs name, the Parquet file each one
becomes, how many rows each holds (counted in parallel Ray tasks), reading a shard's documents
in batches and writing its rows, and how bad data in a shard travels back to the driver.

Invariants: an output file exists only whole (`write_shard` writes it under a temporary name
first, then renames it), so `Shard.done` is the resume test; bad data is an error *value*
(`error_payload`), never an exception in a Ray task or actor, because Ray retries exceptions
and a retry cannot fix data: the driver raises it at once (`error_from_payload`), naming shard,
line and field.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import InputError, UsageError

READ_CPUS = 0.25  # CPUs a counting task asks for (actors leave room for it)
READ_RETRIES = 3  # a counting task whose worker was lost runs again


@dataclass(frozen=True)
class Shard:
    source: str  # absolute path of the input file
    out: str  # absolute path of its Parquet output

    @property
    def done(self) -> bool:
        return Path(self.out).is_file()


_SUFFIX = re.compile(r"(\.(jsonl|json|ndjson|parquet))?(\.(gz|zst))?$", re.IGNORECASE)


def expand_inputs(patterns: Sequence[str]) -> list[str]:
    """Absolute paths of the files the patterns (paths or globs) name, sorted, each once."""
    from engine.ingest.streams import detect_format

    paths: list[str] = []
    for pattern in patterns:
        pattern = os.path.expanduser(pattern)
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise InputError(
                "the pattern matches no file", file=pattern, fix="check the --input glob"
            )
        for m in matches:
            if not os.path.isfile(m):
                raise InputError("no such file", file=m, fix="check the --input path")
            fmt = detect_format(m)
            if fmt not in ("jsonl", "parquet"):
                raise InputError(
                    f"--engine ray reads JSONL (.gz, .zst) and Parquet shards, not {fmt}", file=m
                )
            paths.append(os.path.abspath(m))
    return list(dict.fromkeys(paths))


def check_out_dir(out_dir: str | Path) -> Path:
    """The output directory: absent or a directory (UsageError when it names a file)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(
            f"--out {out} is a file; it must be a directory (one Parquet file per input shard)",
            fix="give --out a directory, new or one an earlier run of this apply wrote",
        )
    return out


def plan_shards(inputs: Sequence[str], out_dir: str | Path) -> list[Shard]:
    """One output file per input shard: `<stem>-<hash of its path>.parquet` in out_dir."""
    out = Path(out_dir)
    shards = []
    for path in expand_inputs(inputs):
        stem = _SUFFIX.sub("", Path(path).name) or "shard"
        tag = hashlib.sha1(path.encode()).hexdigest()[:8]
        shards.append(Shard(path, str(out / f"{stem}-{tag}.parquet")))
    return shards


def shard_rows(path: str) -> int:
    """Rows of a shard: from Parquet metadata, or the non-blank lines of a JSONL file."""
    from engine.ingest.sources import PathSource
    from engine.ingest.streams import detect_format, open_decompressed

    if detect_format(path) == "parquet" or path.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    n = 0
    with open_decompressed(PathSource(Path(path))) as stream:
        for line in stream:
            if line.strip():
                n += 1
    return n


def count_rows(ray: Any, paths: Sequence[str]) -> list[int]:
    """shard_rows of each path, as parallel Ray tasks; a shard that cannot be read raises its
    InputError here (not retried: module doc)."""
    if not paths:
        return []
    task = ray.remote(num_cpus=READ_CPUS, max_retries=READ_RETRIES)(shard_rows_or_error)
    counts = list(ray.get([task.remote(p) for p in paths]))
    for n in counts:
        if isinstance(n, dict):
            raise error_from_payload(n)
    return counts


def shard_rows_or_error(path: str) -> int | dict[str, Any]:
    """shard_rows, or the error payload of a shard that cannot be read (bad data)."""
    from engine.errors import BetrError
    from engine.ingest.sources import PathSource
    from engine.ingest.streams import decompression_error, decompression_error_types

    try:
        return shard_rows(path)
    except BetrError as exc:
        return error_payload(exc)
    except decompression_error_types() as exc:
        return error_payload(decompression_error(PathSource(Path(path)), exc, 0))


def error_payload(exc: Exception) -> dict[str, Any]:
    """A BetrError as plain data, to cross from a Ray worker to the driver without a retry."""
    return {
        "kind": "input" if isinstance(exc, InputError) else "usage",
        "message": getattr(exc, "bare_message", None) or getattr(exc, "message", str(exc)),
        "file": getattr(exc, "file", None),
        "line": getattr(exc, "line", None),
        "field": getattr(exc, "field", None),
        "unit": getattr(exc, "unit", "line"),
        "fix": getattr(exc, "fix", None),
    }


def error_from_payload(p: dict[str, Any]) -> Exception:
    if p.get("kind") == "input":
        return InputError(
            p["message"],
            file=p.get("file"),
            line=p.get("line"),
            field=p.get("field"),
            fix=p.get("fix"),
            unit=p.get("unit") or "line",
        )
    return UsageError(p["message"], fix=p.get("fix"))


def read_shard(
    batch: dict[str, np.ndarray], *, text_field: str, id_field: str, rows_per_batch: int
) -> Iterator[dict[str, np.ndarray]]:
    """(in an actor) The documents of the shards in `batch["source"]` (one), as batches
    {id, text, shard, row, size}: `row` counts from 0 in the shard, `size` (-1 until the final
    batch) is how many rows it has."""
    from engine.ingest.docfields import extract_doc
    from engine.ingest.readers import iter_records
    from engine.ingest.sources import PathSource

    for source in batch["source"]:
        ids: list[str] = []
        texts: list[str] = []
        row = 0
        for rec in iter_records(PathSource(Path(str(source)))):
            ext_id, text, _meta = extract_doc(rec, text_field, id_field)
            ids.append(ext_id)
            texts.append(text)
            if len(ids) >= rows_per_batch:
                yield _read_batch(ids, texts, str(source), row, last=False)
                row += len(ids)
                ids, texts = [], []
        yield _read_batch(ids, texts, str(source), row, last=True)


def _read_batch(ids: list[str], texts: list[str], source: str, start: int, *, last: bool) -> Any:
    """(a pyarrow Table) `size` is -1, or on a shard's final batch its number of rows; an empty final batch is
    one marker row (row -1) that carries only the size."""
    n = len(ids)
    size = start + n if last else -1
    if not n:
        ids, texts, rows = [""], [""], np.array([-1], dtype=np.int64)
    else:
        rows = np.arange(start, start + n, dtype=np.int64)
    import pyarrow as pa

    return pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "text": pa.array(texts, pa.string()),
            "shard": pa.array([source] * len(ids), pa.string()),
            "row": rows,
            "size": np.full(len(ids), size, dtype=np.int64),
        }
    )


def write_shard(shard: Shard, parts: list[Any]) -> int:
    """The shard's rows, in input order, without the bookkeeping columns: to a temporary
    name, then renamed (a shard file that exists is whole)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pa.concat_tables(parts)
    table = table.filter(pc.greater_equal(table.column("row"), 0))  # no empty-shard marker
    table = table.sort_by("row").drop_columns(["row", "size"])
    out = Path(shard.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # a name of its own: two runs into one --out never write the same temporary file
    tmp = out.with_name(f"{out.name}.{os.getpid()}-{time.monotonic_ns()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, out)
    return table.num_rows
