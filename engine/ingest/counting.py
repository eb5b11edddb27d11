"""Cheap record counts for progress totals (done/total) before an import starts.

Counts are estimates for the progress bar only: lines for JSONL/CSV (a CSV field with an
embedded newline counts twice), exact row counts from Parquet metadata and Arrow batches.
A file that cannot be counted contributes 0; the real reader reports its error.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from engine.ingest.sources import Source

BLOCK = 1 << 20


def count_lines(fh: BinaryIO) -> int:
    """Lines, counting a last line without a trailing newline; blank lines are not counted."""
    n = 0
    last = b"\n"
    prev_newline = True
    while block := fh.read(BLOCK):
        n += block.count(b"\n") - block.count(b"\n\n")
        if prev_newline and block.startswith(b"\n"):
            n -= 1
        prev_newline = block.endswith(b"\n")
        last = block
    if not last.endswith(b"\n"):
        n += 1
    return max(n, 0)


def count_records(source: Source) -> int:
    from engine.ingest.streams import detect_format, open_decompressed

    try:
        fmt = detect_format(source.name)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            with source.open() as fh:
                return pq.ParquetFile(
                    io.BytesIO(fh.read()) if not fh.seekable() else fh
                ).metadata.num_rows
        if fmt == "arrow":
            import pyarrow as pa

            with source.open() as fh:
                data = fh.read()
            try:
                reader = pa.ipc.open_stream(data)
            except pa.ArrowInvalid:
                reader = pa.ipc.open_file(data)
                return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
            return sum(batch.num_rows for batch in reader)
        with open_decompressed(source) as fh:
            lines = count_lines(fh)
        return max(lines - 1, 0) if fmt == "csv" else lines
    except Exception:
        return 0
