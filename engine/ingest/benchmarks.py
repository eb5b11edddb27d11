"""Benchmark readers: every supported layout becomes `Example`s (question, choices, answer, text).

The text that gets embedded is METHODS 1: the question, then the choices one per line (if
any), then the answer or worked solution, joined with newlines. Formats are detected from the
first record's fields, or given with --format; --field-map covers anything else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InputError, UsageError
from engine.ingest.readers import Record, iter_records
from engine.ingest.sources import Source

FORMATS = (
    "auto",
    "gsm8k",
    "math",
    "mc",
    "humaneval",
    "olmes",
    "hf-arc",
    "hf-piqa",
    "hf-hellaswag",
    "hf-sciq",
    "hf-openbookqa",
    "hf-boolq",
    "field-map",
)
FIELD_MAP_KEYS = ("id", "question", "choices", "answer", "gold")
# not "ind": HellaSwag reuses it across different items
ID_FIELDS = ("id", "task_id", "idx", "index", "native_id", "query_id")
LETTER_CHOICE = re.compile(r"^\s*([A-Z])\.\s+(.*)$")


@dataclass
class Example:
    ext_id: str
    question: str
    choices: list[str] | None
    answer: str
    text: str
    meta: dict = field(default_factory=dict)


@dataclass
class BenchmarkRead:
    format: str
    examples: list[Example]
    skipped: list[InputError]


class RecordMismatch(Exception):
    """A record does not fit the format: (field, message)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


def parse_field_map(spec: str) -> dict[str, str]:
    """ "question=prompt,choices=options,answer=target" -> {"question": "prompt", ...}."""
    mapping: dict[str, str] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise UsageError(
                f"bad --field-map entry '{part}'", fix="write KEY=FIELD pairs separated by commas"
            )
        if key not in FIELD_MAP_KEYS:
            raise UsageError(
                f"unknown --field-map key '{key}'", fix=f"keys: {', '.join(FIELD_MAP_KEYS)}"
            )
        mapping[key] = value
    if "question" not in mapping:
        raise UsageError(
            "--field-map needs question=FIELD", fix="e.g. question=prompt,answer=target"
        )
    if "answer" not in mapping and not {"choices", "gold"} <= set(mapping):
        raise UsageError(
            "--field-map needs answer=FIELD, or choices=FIELD and gold=FIELD",
            fix="e.g. question=prompt,choices=options,gold=label",
        )
    return mapping


# -- detection ------------------------------------------------------------------------------
def detect_benchmark_format(data: dict) -> str | None:
    keys = set(data)
    if "request_type" in keys and isinstance(data.get("doc"), dict):
        return "olmes"
    if {"task_id", "prompt", "canonical_solution"} <= keys:
        return "humaneval"
    if {"problem", "solution"} <= keys:
        return "math"
    if {"query", "choices", "gold"} <= keys:
        return "mc"
    if {"question", "choices", "answerKey"} <= keys and isinstance(data.get("choices"), dict):
        return "hf-arc"
    if {"question_stem", "choices", "answerKey"} <= keys:
        return "hf-openbookqa"
    if {"goal", "sol1", "sol2", "label"} <= keys:
        return "hf-piqa"
    if {"ctx", "endings", "label"} <= keys:
        return "hf-hellaswag"
    if {"question", "correct_answer", "distractor1"} <= keys:
        return "hf-sciq"
    if {"question", "answer", "passage"} <= keys and isinstance(data.get("answer"), bool):
        return "hf-boolq"
    if {"question", "answer"} <= keys and isinstance(data.get("answer"), str):
        return "gsm8k"
    return None


# -- per-format conversion: data -> (question, choices, answer, meta) ----------------------
def _get(data: dict, name: str) -> Any:
    if name not in data or data[name] is None:
        raise RecordMismatch(name, "missing")
    return data[name]


def _str(data: dict, name: str) -> str:
    value = _get(data, name)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RecordMismatch(name, f"must be text, got {type(value).__name__}")
    text = str(value)
    if not text.strip():
        raise RecordMismatch(name, "is empty")
    return text


def _choices(data: dict, name: str) -> list[str]:
    value = _get(data, name)
    if not isinstance(value, list) or not value:
        raise RecordMismatch(name, "must be a non-empty list")
    if not all(isinstance(c, str | int | float) and not isinstance(c, bool) for c in value):
        raise RecordMismatch(name, "must be a list of strings")
    return [str(c) for c in value]


def _index(data: dict, name: str, n: int) -> int:
    value = _get(data, name)
    if isinstance(value, bool):
        raise RecordMismatch(name, "must be an index into the choices")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or not 0 <= value < n:
        raise RecordMismatch(name, f"must be an index 0..{n - 1} into the choices, got {value!r}")
    return value


def _clean_query(query: str) -> str:
    q = query.strip()
    for prefix in ("Question:", "Goal:"):  # OLMES query templates (ARC..., PIQA)
        if q.startswith(prefix):
            q = q[len(prefix) :].strip()
    if q.endswith("Answer:"):
        q = q[: -len("Answer:")].rstrip()
    return q


def _letter_choices(query: str, choices: list[str]) -> tuple[str, list[str]]:
    """OLMES "mc" variants list the real choices in the query (" A. text"): recover them."""
    lines = query.splitlines()
    found = {}
    first = None
    for i, line in enumerate(lines):
        m = LETTER_CHOICE.match(line)
        if m and m.group(1) in choices:
            found[m.group(1)] = m.group(2).strip()
            first = i if first is None else first
    if first is None or set(found) != set(choices):
        return query, choices
    question = "\n".join(lines[:first])
    return question, [found[c] for c in choices]


def from_gsm8k(d: dict) -> tuple[str, list[str] | None, str, dict]:
    answer = _str(d, "answer")
    meta = {"short_answer": answer.rsplit("####", 1)[1].strip()} if "####" in answer else {}
    return _str(d, "question"), None, answer, meta


def from_math(d: dict) -> tuple[str, list[str] | None, str, dict]:
    meta = {k: d[k] for k in ("answer", "level", "type", "subject") if d.get(k) is not None}
    return _str(d, "problem"), None, _str(d, "solution"), meta


def from_mc(d: dict) -> tuple[str, list[str] | None, str, dict]:
    choices = _choices(d, "choices")
    gold = _index(d, "gold", len(choices))
    question = _clean_query(_str(d, "query"))
    if all(len(c) == 1 and c.isupper() for c in choices):
        question, choices = _letter_choices(question, choices)
    return question, choices, choices[gold], {"gold": gold}


def from_humaneval(d: dict) -> tuple[str, list[str] | None, str, dict]:
    meta = {"entry_point": d["entry_point"]} if d.get("entry_point") else {}
    return _str(d, "prompt"), None, _str(d, "canonical_solution"), meta


def _keyed_choices(d: dict, name: str) -> tuple[list[str], list[str]]:
    value = _get(d, name)
    if not isinstance(value, dict) or not isinstance(value.get("text"), list):
        raise RecordMismatch(name, "must be {'text': [...], 'label': [...]}")
    texts = [str(t) for t in value["text"]]
    labels = [str(x) for x in value.get("label") or []]
    if not texts or len(labels) != len(texts):
        raise RecordMismatch(name, "needs as many labels as texts")
    return texts, labels


def _by_key(d: dict, texts: list[str], labels: list[str]) -> tuple[str, int]:
    key = _str(d, "answerKey").strip()
    if key not in labels:
        raise RecordMismatch("answerKey", f"'{key}' is not one of the labels {labels}")
    gold = labels.index(key)
    return texts[gold], gold


def from_hf_arc(d: dict) -> tuple[str, list[str] | None, str, dict]:
    texts, labels = _keyed_choices(d, "choices")
    answer, gold = _by_key(d, texts, labels)
    return _str(d, "question"), texts, answer, {"gold": gold}


def from_hf_openbookqa(d: dict) -> tuple[str, list[str] | None, str, dict]:
    texts, labels = _keyed_choices(d, "choices")
    answer, gold = _by_key(d, texts, labels)
    return _str(d, "question_stem"), texts, answer, {"gold": gold}


def from_hf_piqa(d: dict) -> tuple[str, list[str] | None, str, dict]:
    choices = [_str(d, "sol1"), _str(d, "sol2")]
    gold = _index(d, "label", 2)
    return _str(d, "goal"), choices, choices[gold], {"gold": gold}


def from_hf_hellaswag(d: dict) -> tuple[str, list[str] | None, str, dict]:
    choices = _choices(d, "endings")
    gold = _index(d, "label", len(choices))
    ctx = _str(d, "ctx")
    label = d.get("activity_label")
    question = f"{label}: {ctx}" if isinstance(label, str) and label else ctx
    return question, choices, choices[gold], {"gold": gold}


def from_hf_sciq(d: dict) -> tuple[str, list[str] | None, str, dict]:
    answer = _str(d, "correct_answer")
    choices = [_str(d, f"distractor{i}") for i in (1, 2, 3)] + [answer]
    return _str(d, "question"), choices, answer, {"gold": 3}


def from_hf_boolq(d: dict) -> tuple[str, list[str] | None, str, dict]:
    value = _get(d, "answer")
    if not isinstance(value, bool):
        raise RecordMismatch("answer", "must be true or false")
    return _str(d, "question"), ["yes", "no"], "yes" if value else "no", {}


CONVERTERS: dict[str, Callable[[dict], tuple[str, list[str] | None, str, dict]]] = {
    "gsm8k": from_gsm8k,
    "math": from_math,
    "mc": from_mc,
    "humaneval": from_humaneval,
    "hf-arc": from_hf_arc,
    "hf-openbookqa": from_hf_openbookqa,
    "hf-piqa": from_hf_piqa,
    "hf-hellaswag": from_hf_hellaswag,
    "hf-sciq": from_hf_sciq,
    "hf-boolq": from_hf_boolq,
}


def field_map_converter(mapping: dict[str, str]):
    def convert(d: dict) -> tuple[str, list[str] | None, str, dict]:
        question = _str(d, mapping["question"])
        choices = _choices(d, mapping["choices"]) if "choices" in mapping else None
        if "answer" in mapping:
            answer = _str(d, mapping["answer"])
            meta: dict = {}
        else:
            assert choices is not None
            gold = _index(d, mapping["gold"], len(choices))
            answer, meta = choices[gold], {"gold": gold}
        return question, choices, answer, meta

    return convert


def example_text(question: str, choices: list[str] | None, answer: str) -> str:
    return "\n".join([question, *(choices or []), answer])


def _record_id(data: dict) -> str | None:
    for name in ID_FIELDS:
        value = data.get(name)
        if value is not None and not isinstance(value, dict | list | bool):
            return str(value)
    return None


# -- reading --------------------------------------------------------------------------------
def _items(
    records: Iterator[Record], state: dict, on_bad
) -> Iterator[tuple[Record, dict, str | None]]:
    """(record, benchmark item, its id); OLMES request files are unwrapped when seen."""
    records = iter(records)
    for rec in records:
        if not state["olmes"] and detect_benchmark_format(rec.data) == "olmes":
            state["olmes"] = True
        if state["olmes"]:
            yield from _unwrap_olmes(_chain(rec, records), on_bad)
            return
        yield rec, rec.data, _record_id(rec.data)


def _chain(first: Record, rest: Iterator[Record]) -> Iterator[Record]:
    yield first
    yield from rest


def _unwrap_olmes(records: Iterator[Record], on_bad) -> Iterator[tuple[Record, dict, str | None]]:
    """OLMES request files hold one request per choice, and some list every doc twice (a second
    block of request ids, sometimes with other formatting): yield each doc once, keyed by its
    own id (or its content when it has none); the first occurrence wins."""
    seen: set[str] = set()
    for rec in records:
        doc = rec.data.get("doc")
        if not isinstance(doc, dict):
            on_bad(
                InputError(
                    "missing (not an OLMES request)",
                    file=rec.source,
                    line=rec.line,
                    field="doc",
                    fix="use --format for this file's layout",
                )
            )
            continue
        own_id = _record_id(doc)
        key = own_id if own_id is not None else json.dumps(doc, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        yield rec, doc, own_id


def read_benchmark(
    sources: list[Source] | Source,
    fmt: str = "auto",
    *,
    field_map: dict[str, str] | None = None,
    skip_bad: bool = False,
    on_skip: Callable[[InputError], None] | None = None,
) -> BenchmarkRead:
    """Read every example of a benchmark (one or more files, e.g. an HF arrow dir)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format '{fmt}'", fix=f"use one of: {', '.join(FORMATS)}")
    if field_map is not None and fmt not in ("auto", "field-map"):
        raise UsageError("--field-map cannot be combined with --format " + fmt)
    if fmt == "field-map" and not field_map:
        raise UsageError(
            "--format field-map needs --field-map", fix="e.g. --field-map question=q,answer=a"
        )
    sources = [sources] if not isinstance(sources, list) else sources
    skipped: list[InputError] = []

    def bad(exc: InputError) -> None:
        if not skip_bad:
            raise exc
        skipped.append(exc)
        if on_skip is not None:
            on_skip(exc)

    examples: list[Example] = []
    first_seen: dict[str, str] = {}
    detected: str | None = "field-map" if field_map else (None if fmt == "auto" else fmt)
    state = {"olmes": fmt == "olmes"}
    for source in sources:
        records = iter_records(source, skip_bad=skip_bad, on_skip=bad)
        for rec, data, rec_id in _items(records, state, bad):
            if detected == "olmes":
                detected = None
            item_fmt = detected
            if item_fmt is None:
                item_fmt = detect_benchmark_format(data)
                if item_fmt is None:
                    raise InputError(
                        "cannot tell the benchmark format from the fields "
                        f"({', '.join(sorted(map(str, data))[:12])})",
                        file=rec.source,
                        line=rec.line,
                        unit=rec.unit,
                        fix="pass --format (" + ", ".join(FORMATS[1:-1]) + ") or --field-map",
                    )
                if detected is None:
                    detected = item_fmt
            convert = field_map_converter(field_map) if field_map else CONVERTERS.get(item_fmt)
            if convert is None:
                raise UsageError(f"format '{item_fmt}' cannot be read here")
            try:
                question, choices, answer, meta = convert(data)
            except RecordMismatch as exc:
                bad(
                    InputError(
                        exc.message,
                        file=rec.source,
                        line=rec.line,
                        unit=rec.unit,
                        field=exc.field,
                        fix=f"fix the record (format {item_fmt}), or pass --skip-bad",
                    )
                )
                continue
            if field_map and "id" in field_map:
                rec_id = (
                    str(data[field_map["id"]]) if data.get(field_map["id"]) is not None else None
                )
            ext_id = rec_id if rec_id is not None else str(len(examples))
            where = (
                f"{rec.source}:{rec.line}" if rec.unit == "line" else f"{rec.source} row {rec.line}"
            )
            if ext_id in first_seen:
                bad(
                    InputError(
                        f"duplicate example id '{ext_id}' (first at {first_seen[ext_id]})",
                        file=rec.source,
                        line=rec.line,
                        unit=rec.unit,
                        field="id",
                        fix="make the ids unique, or pass --skip-bad",
                    )
                )
                continue
            first_seen[ext_id] = where
            examples.append(
                Example(
                    ext_id, question, choices, answer, example_text(question, choices, answer), meta
                )
            )
    if not examples:
        names = ", ".join(s.name for s in sources)
        raise InputError("no examples", file=names, fix="check the file and --format")
    inner = detected if detected not in (None, "olmes") else "?"
    fmt_name = f"olmes:{inner}" if state["olmes"] else inner
    return BenchmarkRead(fmt_name, examples, skipped)
