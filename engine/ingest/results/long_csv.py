"""The long CSV of eval results (pure; `--format csv --columns run=...,benchmark=...,value=...`):
fields run, size, params, tokens, step, stage, benchmark, category, metric, value; run, benchmark
and value are required; without --columns, columns named like the fields are used. metric
defaults to "acc" and stage to the import's stage when absent; params from size ("1B") when
absent and size from params. Every unmapped column becomes a run attribute (a number when it
reads as one).

Read with polars, lazily: each file is scanned once whole (rows counted, every cell decoded, so
a bad file is refused before any of its rows), then in batches of BATCH_ROWS, so memory holds
one batch whatever the file's size. Line numbers are physical: a quoted field holding line
breaks counts them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from engine.errors import InputError, UsageError
from engine.ingest.results.rows import (
    Parsed,
    ReadOptions,
    bad_file,
    parse_count,
    size_label,
    walk_files,
)
from engine.ingest.streams import first_line
from engine.result_fields import VALUE_FIELDS

FIELDS = VALUE_FIELDS
BATCH_ROWS = 50_000  # rows of a long CSV held at once (as a polars frame and as row dicts)


def parse_long_csv(paths: Sequence[str], parsed: Parsed, options: ReadOptions) -> None:
    """Every row of the long CSVs into parsed.rows (iter_long_csv, all at once)."""
    for rows in iter_long_csv(paths, parsed, options):
        parsed.rows.extend(rows)


def iter_long_csv(
    paths: Sequence[str],
    parsed: Parsed,
    options: ReadOptions,
    on_total: Callable[[int], None] | None = None,
    *,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[list[dict[str, Any]]]:
    """The long CSVs' rows, a batch of at most `batch_rows` at a time (parsed counts the
    files, the dropped values and the skipped records; its `rows` stay as they were). Read
    with polars, lazily: each file is scanned once whole (its rows counted, every cell decoded,
    so a bad file is refused before any of its rows is yielded), then in batches, so memory
    holds one batch whatever the file's size. `on_total(rows)` gets each file's row count
    before its rows come. Lines are physical: a quoted field holding line breaks counts them."""
    columns, stage, skip_bad = options.columns, options.stage, options.skip_bad
    if columns:
        unknown = sorted(set(columns) - set(FIELDS))
        if unknown:
            raise UsageError(
                f"unknown --columns field(s) {', '.join(unknown)}",
                fix=f"fields are {', '.join(FIELDS)}",
            )
        missing = [f for f in ("run", "benchmark", "value") if f not in columns]
        if missing:
            raise UsageError(
                f"--columns must name {', '.join(missing)}",
                fix="e.g. --columns run=model,benchmark=task,value=score",
            )
    for path in walk_files(paths, (".csv",)):
        parsed.files += 1
        try:
            header, n_rows = _scan_csv(path)
            mapping = columns or {f: f for f in FIELDS if f in header}
            absent = [f"{f}={c}" for f, c in mapping.items() if c not in header]
            need = [f for f in ("run", "benchmark", "value") if f not in mapping]
            if absent or need:
                what = (
                    f"column(s) {', '.join(absent)} not in the header"
                    if absent
                    else (f"no {', '.join(need)} column")
                )
                raise InputError(
                    f"unknown shape: {what} ({', '.join(header[:12])})",
                    file=path,
                    fix="expected a long CSV with run, benchmark and value columns; map yours "
                    "with --columns run=COL,benchmark=COL,value=COL",
                )
        except InputError as exc:
            bad_file(parsed, exc, skip_bad)
            continue
        if on_total is not None:
            on_total(n_rows)
        extra = [c for c in header if c not in mapping.values()]
        start = len(parsed.rows)
        for batch in _csv_batches(path, header, batch_rows):
            for line, row in batch:
                try:
                    _long_row(path, line, row, mapping, extra, parsed, stage)
                except InputError as exc:
                    bad_file(parsed, exc, skip_bad)
            rows = parsed.rows[start:]
            del parsed.rows[start:]
            yield rows


def _scan(path: str) -> Any:
    import polars as pl

    return pl.scan_csv(
        path, infer_schema=False, truncate_ragged_lines=True, quote_char='"', encoding="utf8"
    )


def _scan_csv(path: str) -> tuple[list[str], int]:
    """(header, rows) of a CSV, every cell decoded once (a file polars cannot read, or not
    UTF-8, is an InputError naming the file and, for bad UTF-8, the line)."""
    import polars as pl

    try:
        lf = _scan(path)
        header = lf.collect_schema().names()
        n_rows = int(lf.select(pl.len(), pl.all().null_count()).collect().item(0, 0))
    except (pl.exceptions.PolarsError, OSError) as exc:
        line = _first_bad_utf8_line(path) if "utf-8" in str(exc) else None
        raise InputError(
            "not valid UTF-8" if line else f"cannot read the CSV ({first_line(exc)})",
            file=path,
            line=line,
            fix="check the file (a UTF-8 CSV with a header row)",
        ) from None
    return header, n_rows


def _first_bad_utf8_line(path: str) -> int | None:
    try:
        with open(path, "rb") as fh:
            for n, raw in enumerate(fh, 1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return n
    except OSError:
        return None
    return None


def _csv_batches(
    path: str, header: list[str], batch_rows: int
) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """[(line, {column: text or None})] per batch of a CSV that `_scan_csv` read whole."""
    import polars as pl

    line = 2 + sum(name.count("\n") for name in header)  # the first record's line
    for df in _scan(path).collect_batches(chunk_size=batch_rows):
        breaks = df.select(
            pl.sum_horizontal(
                [pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in df.columns]
            )
        ).to_series()
        batch = []
        for row, extra_lines in zip(df.iter_rows(named=True), breaks, strict=True):
            batch.append((line, row))
            line += 1 + int(extra_lines)
        yield batch


# a long CSV repeats its counts and sizes (steps, token counts, "1B") on every row: parsed once
_text_count = functools.lru_cache(maxsize=1 << 16)(parse_count)
_size_label = functools.lru_cache(maxsize=1 << 12)(size_label)


def _long_row(
    path: str,
    line: int,
    row: dict[str, str],
    mapping: dict[str, str],
    extra: list[str],
    parsed: Parsed,
    stage: str,
) -> None:
    def get(f: str) -> str | None:
        v = row.get(mapping[f]) if f in mapping else None
        return v.strip() if isinstance(v, str) and v.strip() else None

    run, bench = get("run"), get("benchmark")
    for f, v in (("run", run), ("benchmark", bench)):
        if v is None:
            raise InputError("empty", file=path, line=line, field=mapping[f], fix=f"give a {f}")
    counts: dict[str, int | None] = {}
    for f in ("params", "tokens", "step"):
        try:
            counts[f] = _text_count(get(f))
        except ValueError as exc:
            raise InputError(
                str(exc),
                file=path,
                line=line,
                field=mapping[f],
                fix="give a whole number (1.4e9 and 160m are fine)",
            ) from exc
    size = get("size")
    if counts["params"] is None and size:
        try:
            counts["params"] = _text_count(size)
        except ValueError:
            pass
    attrs: dict[str, Any] = {}
    for c in extra:
        v = (row.get(c) or "").strip()
        if v:
            try:
                attrs[c] = float(v)
            except ValueError:
                attrs[c] = v
    base = {
        "run": run,
        "size": size or _size_label(counts["params"]),
        **counts,
        "stage": get("stage") or stage,
        "benchmark": bench,
        "category": get("category"),
        "attrs": attrs or None,
        "source": f"{path}:{line}",
    }
    try:
        parsed.add(base, get("metric") or "acc", get("value"), f"{path}:{line}")
    except ValueError as exc:
        raise InputError(
            f"{get('value')!r} is not a number",
            file=path,
            line=line,
            field=mapping["value"],
            fix="give a number (empty or NaN is dropped)",
        ) from exc
