"""Benchmark readers: every supported layout becomes `Example`s (question, choices, answer, text).

One example is one benchmark item (one row, one question). The text that gets embedded is, by
default, the BETR paper's (METHODS 1.3, balanced targets): the question, the answer (the correct
choice's text, or the worked solution) and any extra context field the record has (SciQ's
`support`, BoolQ's `passage`, OpenBookQA's `fact1`; `context=FIELD` in a --field-map), joined
with newlines. `--text-fields` picks other parts (e.g. question,choices,answer: the layout
before, with every choice); which fields made a benchmark's texts is recorded with it. The
format is detected from the first record's fields, or given with --format; --field-map covers
anything else.

OLMES request files (oe-eval's requests.jsonl.gz) hold one request per choice, and the "rc"
variants list every item twice (a second block of requests for unconditioned scoring, with
doc_id + 1 000 000). Items are de-duplicated by the doc's own id (`id`, `idx`, `index`) or, when
it has none, by the doc's content. The request-level ids are not used: `doc_id` counts both
blocks, and HellaSwag's `native_id` (its `ind`) is shared by different items.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from engine.errors import InputError, UsageError
from engine.ingest.benchmarks.formats import (
    CONVERTERS,
    Converted,
    RecordMismatch,
    detect_benchmark_format,
    field_map_converter,
    text_of,
)
from engine.ingest.readers import Record, iter_records
from engine.ingest.sources import Source

__all__ = [  # what importers use; the per-format converters live in .formats
    "FIELD_MAP_KEYS",
    "FORMATS",
    "PAPER_TEXT",
    "TEXT_PARTS",
    "BenchmarkRead",
    "Example",
    "RecordMismatch",
    "detect_benchmark_format",
    "example_text",
    "field_map_converter",
    "parse_field_map",
    "parse_text_fields",
    "read_benchmark",
]

# --format: detected, one of the layouts (the registry CONVERTERS), OLMES request files, or a
# --field-map
FORMATS = ("auto", *CONVERTERS, "olmes", "field-map")
FIELD_MAP_KEYS = ("id", "question", "choices", "answer", "gold", "context")
TEXT_PARTS = ("question", "choices", "answer", "context")
PAPER_TEXT = ("question", "answer", "context")  # the default: the BETR paper's example text
# extra context fields, in any format's records (taken when present and not empty): SciQ's
# support passage, BoolQ's passage, OpenBookQA's (additional config) fact
CONTEXT_FIELDS = ("support", "passage", "fact1")
# the record's own id, first match wins; not "ind": HellaSwag reuses it for different items
ID_FIELDS = ("id", "task_id", "unique_id", "idx", "index")
OLMES_DOC_ID_FIELDS = ("id", "idx", "index")


@dataclass
class Example:
    ext_id: str
    question: str
    choices: list[str] | None
    answer: str  # the correct choice's text, or the worked solution
    text: str  # what gets embedded: by default question, answer, context joined with "\n"
    meta: dict = field(default_factory=dict)  # gold index, short answer, level, ...


@dataclass
class BenchmarkRead:
    format: str  # the format used, e.g. "gsm8k", or "olmes:mc" for an OLMES request file
    examples: list[Example]
    skipped: list[InputError]
    # the fields the texts were made from, in text order: question, choices, answer, and
    # context fields by their record name (e.g. support); those of any example
    text_fields: list[str] = field(default_factory=list)


def parse_text_fields(spec: str | None) -> tuple[str, ...]:
    """ "question,answer" -> ("question", "answer"); None or "paper" -> PAPER_TEXT."""
    if spec is None or spec.strip().lower() == "paper":
        return PAPER_TEXT
    parts = tuple(p.strip().lower() for p in spec.split(",") if p.strip())
    unknown = [p for p in parts if p not in TEXT_PARTS]
    if unknown or not parts:
        raise UsageError(
            f"bad --text-fields '{spec}'" + (f": unknown {', '.join(unknown)}" if unknown else ""),
            fix=f"a comma list of {', '.join(TEXT_PARTS)} (e.g. question,choices,answer), or "
            "paper (question,answer,context: the default)",
        )
    if len(set(parts)) != len(parts):
        raise UsageError(f"--text-fields '{spec}' names a part twice", fix="give each part once")
    if "question" not in parts and "answer" not in parts:
        raise UsageError(
            f"--text-fields '{spec}' has neither question nor answer",
            fix="e.g. question,answer (the paper's text adds context: paper)",
        )
    return parts


def example_parts(
    question: str,
    choices: list[str] | None,
    answer: str,
    context: dict[str, str] | None = None,
    fields: tuple[str, ...] = PAPER_TEXT,
) -> list[tuple[str, str]]:
    """(field, text) pieces of an example's text, in order: the parts of `fields` it has
    (context fields under their own record names)."""
    pieces: list[tuple[str, str]] = []
    for part in fields:
        if part == "question":
            pieces.append(("question", question))
        elif part == "choices":
            pieces += [("choices", c) for c in choices or []]
        elif part == "answer":
            pieces.append(("answer", answer))
        elif part == "context":
            pieces += list((context or {}).items())
    return pieces


def example_text(
    question: str,
    choices: list[str] | None,
    answer: str,
    context: dict[str, str] | None = None,
    fields: tuple[str, ...] = PAPER_TEXT,
) -> str:
    return "\n".join(text for _, text in example_parts(question, choices, answer, context, fields))


def _ordered_fields(seen: dict[str, None], fields: tuple[str, ...]) -> list[str]:
    """The fields seen, in text order (context fields in the order they were first seen)."""
    out = []
    for part in fields:
        if part == "context":
            out += [f for f in seen if f not in TEXT_PARTS]
        elif part in seen:
            out.append(part)
    return out


# -- --field-map ----------------------------------------------------------------------------
def parse_field_map(spec: str) -> dict[str, str]:
    """ "question=prompt,choices=options,answer=target" -> {"question": "prompt", ...}.

    Keys: id, question, choices (a list field), answer, gold (an index into the choices),
    context (an extra context field, part of the paper's text).
    Needs question, and either answer or choices + gold.
    """
    mapping: dict[str, str] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not key or not value:
            raise UsageError(
                f"bad --field-map entry '{part.strip()}'",
                fix="write KEY=FIELD pairs separated by commas, e.g. question=prompt,answer=target",
            )
        if key not in FIELD_MAP_KEYS:
            raise UsageError(
                f"unknown --field-map key '{key}'", fix=f"keys: {', '.join(FIELD_MAP_KEYS)}"
            )
        if key in mapping:
            raise UsageError(f"--field-map names '{key}' twice", fix="give each key once")
        mapping[key] = value
    if "question" not in mapping:
        raise UsageError(
            "--field-map needs question=FIELD", fix="e.g. question=prompt,answer=target"
        )
    if "gold" in mapping and "choices" not in mapping:
        raise UsageError(
            "--field-map gold=FIELD needs choices=FIELD (gold is an index into the choices)",
            fix="e.g. question=prompt,choices=options,gold=label",
        )
    if "answer" not in mapping and "gold" not in mapping:
        raise UsageError(
            "--field-map needs answer=FIELD, or choices=FIELD and gold=FIELD",
            fix="e.g. question=prompt,choices=options,gold=label",
        )
    return mapping


# -- records -> benchmark items -------------------------------------------------------------
@dataclass
class Item:
    rec: Record  # where the item was read (for messages)
    data: dict  # the benchmark item (an OLMES request's doc)
    ext_id: str | None  # its own id, when it has one


def _record_id(data: dict, names: tuple[str, ...] = ID_FIELDS) -> str | None:
    for name in names:
        value = data.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value)
    return None


def _items(
    records: Iterator[Record], olmes: dict[str, bool], bad: Callable[[InputError], None]
) -> Iterator[Item]:
    """Benchmark items in order; OLMES request files are unwrapped (once seen, for the rest)."""
    seen: set[str] = set()
    for rec in records:
        if not olmes["on"] and detect_benchmark_format(rec.data) == "olmes":
            olmes["on"] = True
        if not olmes["on"]:
            yield Item(rec, rec.data, _record_id(rec.data))
            continue
        doc = rec.data.get("doc")
        if not isinstance(doc, dict):
            bad(
                InputError(
                    "missing, so this is not an OLMES request",
                    file=rec.source,
                    line=rec.line,
                    unit=rec.unit,
                    field="doc",
                    fix="pass the --format of this file's layout, or --skip-bad",
                )
            )
            continue
        own_id = _record_id(doc, OLMES_DOC_ID_FIELDS)
        key = own_id if own_id is not None else _content_key(doc, rec)
        if key in seen:
            continue  # another request (choice) of an item already read
        seen.add(key)
        yield Item(rec, doc, own_id)


def _content_key(doc: dict, rec: Record) -> str:
    try:
        return "doc:" + json.dumps(doc, sort_keys=True, default=str)
    except (ValueError, TypeError, RecursionError):
        return f"line:{rec.source}:{rec.line}"  # cannot be compared: keep it


# -- reading --------------------------------------------------------------------------------
def read_benchmark(
    sources: list[Source] | Source,
    fmt: str = "auto",
    *,
    field_map: dict[str, str] | None = None,
    skip_bad: bool = False,
    on_skip: Callable[[InputError], None] | None = None,
    text_fields: tuple[str, ...] = PAPER_TEXT,
) -> BenchmarkRead:
    """Every example of a benchmark (one or more files, e.g. an HF arrow dir's shards).

    `fmt` "auto" detects the format from the first record; "olmes" unwraps request files
    (also done automatically). Bad records raise InputError, or with `skip_bad` are listed in
    `skipped` (and passed to `on_skip`). Ids must be unique; without ids, examples are numbered
    from 0 in file order. Each text is made of the `text_fields` parts (see `example_parts`).
    """
    sources = list(sources) if isinstance(sources, list | tuple) else [sources]
    _check_format_args(fmt, field_map)
    skipped: list[InputError] = []

    def bad(exc: InputError) -> None:
        if not skip_bad:
            raise exc
        skipped.append(exc)
        if on_skip is not None:
            on_skip(exc)

    olmes = {"on": fmt == "olmes"}
    chosen: str | None = "field-map" if field_map else (None if fmt in ("auto", "olmes") else fmt)
    convert = field_map_converter(field_map) if field_map else None
    examples: list[Example] = []
    first_seen: dict[str, str] = {}
    used: dict[str, None] = {}  # the fields the texts were made from (an ordered set)
    for source in sources:
        records = iter_records(source, skip_bad=skip_bad, on_skip=bad)
        for item in _items(records, olmes, bad):
            if chosen is None:
                chosen = _detect(item)
            if convert is None:
                convert = CONVERTERS[chosen]
            made = _example(item, convert, chosen, field_map, len(examples), bad, text_fields)
            if made is None or not _unique(made[0], item.rec, first_seen, bad):
                continue
            examples.append(made[0])
            used.update(dict.fromkeys(made[1]))
    if not examples:
        raise InputError(
            "no examples" + (f" ({len(skipped)} bad records skipped)" if skipped else ""),
            file=", ".join(s.name for s in sources) or None,
            fix="check the file and --format",
        )
    name = chosen or "?"
    return BenchmarkRead(
        f"olmes:{name}" if olmes["on"] else name,
        examples,
        skipped,
        _ordered_fields(used, text_fields),
    )


def _check_format_args(fmt: str, field_map: dict[str, str] | None) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format '{fmt}'", fix=f"use one of: {', '.join(FORMATS)}")
    if field_map and fmt not in ("auto", "field-map"):
        raise UsageError(
            f"--field-map cannot be combined with --format {fmt}",
            fix="drop one of them (--field-map implies --format field-map)",
        )
    if fmt == "field-map" and not field_map:
        raise UsageError(
            "--format field-map needs --field-map",
            fix="e.g. --field-map question=prompt,choices=options,answer=target",
        )


def _detect(item: Item) -> str:
    found = detect_benchmark_format(item.data)
    if found is None or found == "olmes":
        fields = sorted(map(str, item.data))
        raise InputError(
            "cannot tell the benchmark format from the fields "
            f"({', '.join(fields[:15])}{', ...' if len(fields) > 15 else ''})",
            file=item.rec.source,
            line=item.rec.line,
            unit=item.rec.unit,
            fix=f"pass --format ({', '.join(FORMATS[1:-1])}) or --field-map "
            "question=FIELD,answer=FIELD",
        )
    return found


def _example(
    item: Item,
    convert: Callable[[dict], Converted],
    fmt: str,
    field_map: dict[str, str] | None,
    index: int,
    bad: Callable[[InputError], None],
    text_fields: tuple[str, ...] = PAPER_TEXT,
) -> tuple[Example, list[str]] | None:
    """The item as an Example and the fields its text was made from, or None after reporting
    why it does not fit `fmt`."""
    try:
        question, choices, answer, meta = convert(item.data)
        ext_id = item.ext_id
        if field_map and "id" in field_map:
            ext_id = text_of(item.data, field_map["id"], numbers=True)
        context = _context(item.data, field_map) if "context" in text_fields else {}
    except RecordMismatch as exc:
        bad(
            InputError(
                exc.message,
                file=item.rec.source,
                line=item.rec.line,
                unit=item.rec.unit,
                field=exc.field,
                fix=f"fix the record (format {fmt}), or pass --skip-bad",
            )
        )
        return None
    ext_id = ext_id if ext_id is not None else str(index)
    pieces = example_parts(question, choices, answer, context, text_fields)
    text = "\n".join(piece for _, piece in pieces)
    return Example(ext_id, question, choices, answer, text, meta), [f for f, _ in pieces]


def _context(data: dict, field_map: dict[str, str] | None) -> dict[str, str]:
    """The record's extra context fields that hold text: {field name: text}; with a field
    map, only its context=FIELD. A context field that is absent, null or empty is left out;
    one that is not text is a mismatch."""
    if field_map is not None:
        names: tuple[str, ...] = (field_map["context"],) if "context" in field_map else ()
    else:
        names = CONTEXT_FIELDS
    out = {}
    for name in names:
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        out[name] = text_of(data, name)
    return out


def _unique(
    example: Example, rec: Record, first_seen: dict[str, str], bad: Callable[[InputError], None]
) -> bool:
    where = f"{rec.source}:{rec.line}" if rec.unit == "line" else f"{rec.source} row {rec.line}"
    if example.ext_id in first_seen:
        bad(
            InputError(
                f"duplicate example id '{example.ext_id}' (first at {first_seen[example.ext_id]})",
                file=rec.source,
                line=rec.line,
                unit=rec.unit,
                field="id",
                fix="make the ids unique, or pass --skip-bad to keep the first",
            )
        )
        return False
    first_seen[example.ext_id] = where
    return True
