"""Reading reasoning traces in the import formats (METHODS 2, "Import formats"), one module per
format, each registered in TRACE_FORMATS (name -> TraceFormat: its reader and default field
names); what they share (TraceRecord, JSON reading, the field map, errors) is in records.

- `openai` (openai): chat-completions JSON Lines with logprobs, or Batch API output lines;
- `rbridge` (release): the rBridge release layout, completions JSON + token-row parts;
- `mask` (mask): JSON Lines whose reasoning marks the scored text with <span>...</span>;
- `plain` (plain): JSON Lines {id, benchmark, question, reasoning, tokens?}.

A gold answer is read from the optional `gold` field (a number becomes its text). Reading is
all or nothing: the first bad record raises its InputError (file, line or index, field, fix)
unless skip_bad, which skips it and returns its message. A trace id that appears twice is a
bad record (skip_bad keeps the first). Files are read by the importers' shared JSON reader
(engine.ingest.json_records): JSON Lines split on "\n" only, .gz/.zst by name, and nesting, huge
numbers and unpaired surrogates are precise errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError, UsageError
from engine.rbridge.formats.mask import MASK_FIELDS, read_mask
from engine.rbridge.formats.openai import OPENAI_FIELDS, read_openai
from engine.rbridge.formats.plain import PLAIN_FIELDS, read_plain
from engine.rbridge.formats.records import Fields, TraceRecord
from engine.rbridge.formats.release import RBRIDGE_FIELDS, read_rbridge

__all__ = ["TRACE_FORMATS", "TraceFormat", "TraceRecord", "read_traces"]


@dataclass(frozen=True)
class TraceFormat:
    """One trace import format: `read(paths, fields)` yields each trace of the files (a
    TraceRecord) or the InputError of a bad one; `fields` maps the format's field names
    (`defaults`, overridden by the user's --field-map)."""

    summary: str
    read: Callable[[list[str], Fields], Iterator[TraceRecord | InputError]]
    defaults: Mapping[str, tuple[str, ...]]


TRACE_FORMATS: dict[str, TraceFormat] = {
    "openai": TraceFormat(
        "chat-completions JSON Lines with logprobs (or Batch API output)",
        read_openai,
        OPENAI_FIELDS,
    ),
    "rbridge": TraceFormat(
        "the rBridge release: completions JSON + _logprobs_partNN_of_MM.jsonl",
        read_rbridge,
        RBRIDGE_FIELDS,
    ),
    "mask": TraceFormat(
        "JSON Lines with <span>...</span> marking the scored text", read_mask, MASK_FIELDS
    ),
    "plain": TraceFormat(
        "JSON Lines {id, question, reasoning, tokens: [[token, logprob], ...]}",
        read_plain,
        PLAIN_FIELDS,
    ),
}


def trace_format(fmt: str) -> TraceFormat:
    """The registered format named `fmt` (a UsageError naming the known ones otherwise)."""
    try:
        return TRACE_FORMATS[fmt]
    except KeyError:
        raise UsageError(
            f"unknown trace format '{fmt}'", fix=f"use one of {', '.join(TRACE_FORMATS)}"
        ) from None


def read_traces(
    paths: Sequence[str | Path],
    fmt: str,
    *,
    field_map: dict[str, str] | None = None,
    skip_bad: bool = False,
) -> tuple[list[TraceRecord], list[str]]:
    """(records, messages of the records skipped). The first bad record raises its
    InputError unless skip_bad; no record at all is an InputError too."""
    reader = trace_format(fmt)
    names = [str(p) for p in paths]
    items = reader.read(names, Fields(fmt, reader.defaults, field_map))
    records: list[TraceRecord] = []
    skipped: list[str] = []
    first: dict[str, str] = {}  # trace id -> where it first is
    for item in items:
        if isinstance(item, TraceRecord) and item.ext_id in first:
            item = InputError(
                f"trace id '{item.ext_id}' appears twice (first at {first[item.ext_id]})",
                file=item.source,
                field="id",
                fix="give every trace its own id; --skip-bad keeps the first",
            )
        if isinstance(item, InputError):
            if not skip_bad:
                raise item
            skipped.append(item.message)
        else:
            first[item.ext_id] = item.source
            records.append(item)
    if not records:
        raise InputError(
            "no traces read" + (f" ({len(skipped)} bad records skipped)" if skipped else ""),
            file=", ".join(names),
            fix=f"check that these are {fmt}-format trace files",
        )
    return records, skipped
