"""Benchmark readers: every supported layout becomes `Example`s (question, choices, answer, text).

One example is one benchmark item (one row, one question). The text that gets embedded is
METHODS 1: the question, then the choices one per line (if any), then the answer or worked
solution, joined with newlines. The format is detected from the first record's fields, or given
with --format; --field-map covers anything else.

OLMES request files (oe-eval's requests.jsonl.gz) hold one request per choice, and the "rc"
variants list every item twice (a second block of requests for unconditioned scoring, with
doc_id + 1 000 000). Items are de-duplicated by the doc's own id (`id`, `idx`, `index`) or, when
it has none, by the doc's content. The request-level ids are not used: `doc_id` counts both
blocks, and HellaSwag's `native_id` (its `ind`) is shared by different items.
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
# the record's own id, first match wins; not "ind": HellaSwag reuses it for different items
ID_FIELDS = ("id", "task_id", "unique_id", "idx", "index")
OLMES_DOC_ID_FIELDS = ("id", "idx", "index")
LETTER_OPTION = re.compile(r"^\s*([A-Z])\.\s+(.*)$")
OLMES_INSTRUCTIONS = ("Choose the best continuation:",)  # lines between a question and its options

Converted = tuple[str, list[str] | None, str, dict]  # question, choices, answer, meta


@dataclass
class Example:
    ext_id: str
    question: str
    choices: list[str] | None
    answer: str  # the correct choice's text, or the worked solution
    text: str  # what gets embedded: question, choices, answer joined with "\n"
    meta: dict = field(default_factory=dict)  # gold index, short answer, level, ...


@dataclass
class BenchmarkRead:
    format: str  # the format used, e.g. "gsm8k", or "olmes:mc" for an OLMES request file
    examples: list[Example]
    skipped: list[InputError]


class RecordMismatch(Exception):
    """A record does not fit its format: which field, and what is wrong with it."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


def example_text(question: str, choices: list[str] | None, answer: str) -> str:
    return "\n".join([question, *(choices or []), answer])


# -- --field-map ----------------------------------------------------------------------------
def parse_field_map(spec: str) -> dict[str, str]:
    """ "question=prompt,choices=options,answer=target" -> {"question": "prompt", ...}.

    Keys: id, question, choices (a list field), answer, gold (an index into the choices).
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


# -- detection ------------------------------------------------------------------------------
def detect_benchmark_format(data: dict) -> str | None:
    """The format a record looks like, or None. OLMES requests are "olmes" (detect on the doc)."""
    keys = set(data)
    if "request_type" in keys and isinstance(data.get("doc"), dict):
        return "olmes"
    if {"task_id", "prompt", "canonical_solution"} <= keys:
        return "humaneval"
    if {"problem", "solution"} <= keys:
        return "math"
    if _looks_multiple_choice(data):
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
    if {"question", "answer"} <= keys and "####" in str(data.get("answer")):
        return "gsm8k"
    return None


def _looks_multiple_choice(data: dict) -> bool:
    """query/choices/gold (llm-foundry, OLMES), or question/choices/gold|answer-index (MMLU)."""
    if not isinstance(data.get("choices"), list):
        return False
    if "query" in data and "gold" in data:
        return True
    answer = data.get("answer")
    has_index = "gold" in data or (isinstance(answer, int) and not isinstance(answer, bool))
    return "question" in data and has_index


# -- field access ---------------------------------------------------------------------------
def _get(data: dict, name: str) -> Any:
    if name not in data:
        raise RecordMismatch(name, "missing")
    if data[name] is None:
        raise RecordMismatch(name, "is null")
    return data[name]


def _str(data: dict, name: str, *, numbers: bool = False) -> str:
    """A non-empty text field. Text that gets embedded (questions, contexts, solutions) must be
    a string, as a document's text must; with `numbers`, an answer or a key may also be a
    number, taken as its decimal text."""
    value = _get(data, name)
    allowed = (str, int, float) if numbers else (str,)
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise RecordMismatch(name, f"must be text, got {_kind(value)}")
    text = str(value)
    if not text.strip():
        raise RecordMismatch(name, "is empty")
    return text


def _choices(data: dict, name: str) -> list[str]:
    """A non-empty list of texts (a CSV cell may hold it as a JSON list)."""
    value = _get(data, name)
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            pass
    if not isinstance(value, list) or not value:
        raise RecordMismatch(name, f"must be a non-empty list of choices, got {_kind(value)}")
    if not all(isinstance(c, str | int | float) and not isinstance(c, bool) for c in value):
        raise RecordMismatch(name, "must be a list of texts")
    return [str(c) for c in value]


def _index(data: dict, name: str, n: int) -> int:
    """An index 0..n-1 into the choices (an int, or its digits as text)."""
    value = _get(data, name)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
        raise RecordMismatch(name, f"must be an index 0..{n - 1} into the choices, got {value!r}")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, bytes | bytearray | memoryview):
        return "binary data (bytes)"
    kinds = {dict: "an object", list: "a list", str: "text", int: "a number", float: "a number"}
    return kinds.get(type(value), type(value).__name__)


# -- per-format conversion: record -> (question, choices, answer, meta) ----------------------
def from_gsm8k(d: dict) -> Converted:
    """GSM8K: the answer is the full worked solution; the number after "####" goes to meta."""
    answer = _str(d, "answer", numbers=True)
    meta = {"short_answer": answer.rsplit("####", 1)[1].strip()} if "####" in answer else {}
    return _str(d, "question"), None, answer, meta


def from_math(d: dict) -> Converted:
    """MATH: the answer is the solution; the short answer, level and subject go to meta."""
    meta = {k: d[k] for k in ("answer", "level", "type", "subject") if d.get(k) is not None}
    return _str(d, "problem"), None, _str(d, "solution"), meta


def from_mc(d: dict) -> Converted:
    """query/choices/gold (llm-foundry, OLMES docs; MMLU's question/choices/answer index):
    the answer is choices[gold]."""
    choices = _choices(d, "choices")
    gold = _index(d, "gold" if "gold" in d or "answer" not in d else "answer", len(choices))
    question = _clean_query(_str(d, "query" if "query" in d or "question" not in d else "question"))
    if all(len(c) == 1 and c.isupper() for c in choices):
        question, choices = _letter_options(question, choices)
    return question, choices, choices[gold], {"gold": gold}


def _clean_query(query: str) -> str:
    """Drop the prompt template around the question: "Question: ...\\nAnswer:"."""
    q = query.strip()
    for prefix in ("Question:", "Goal:"):  # OLMES templates (ARC, CSQA, OpenBookQA; PIQA)
        if q.startswith(prefix):
            q = q[len(prefix) :].strip()
    if q.endswith("Answer:"):
        q = q[: -len("Answer:")].rstrip()
    return q


def _letter_options(question: str, letters: list[str]) -> tuple[str, list[str]]:
    """OLMES "mc" variants have choices "A".."D" and list the real texts in the query as
    " A. text" lines: recover them. Left as they are when the lines do not match."""
    lines = question.splitlines()
    options: dict[str, str] = {}
    first = None
    for i, line in enumerate(lines):
        m = LETTER_OPTION.match(line)
        if m and m.group(1) in letters and m.group(1) not in options:
            options[m.group(1)] = m.group(2).strip()
            first = i if first is None else first
    if first is None or set(options) != set(letters) or not all(options.values()):
        return question, letters
    stem = lines[:first]
    while stem and stem[-1].strip() in OLMES_INSTRUCTIONS:
        stem.pop()
    stem_text = "\n".join(stem).strip()
    return (stem_text or question), [options[c] for c in letters]


def from_humaneval(d: dict) -> Converted:
    """HumanEval: the prompt (signature + docstring) and the canonical solution."""
    meta = {"entry_point": d["entry_point"]} if isinstance(d.get("entry_point"), str) else {}
    return _str(d, "prompt"), None, _str(d, "canonical_solution"), meta


def _labelled_choices(d: dict, name: str) -> tuple[list[str], list[str]]:
    """HF's {"text": [...], "label": ["A", ...]} choices: (texts, labels)."""
    value = _get(d, name)
    texts = value.get("text") if isinstance(value, dict) else None
    labels = value.get("label") if isinstance(value, dict) else None
    if not isinstance(texts, list) or not isinstance(labels, list) or not texts:
        raise RecordMismatch(name, "must be {'text': [...], 'label': [...]}")
    if len(labels) != len(texts) or not all(isinstance(t, str) for t in texts):
        raise RecordMismatch(name, "needs one label per choice text")
    return texts, [str(label) for label in labels]


def _keyed_answer(d: dict, texts: list[str], labels: list[str]) -> tuple[str, int]:
    key = _str(d, "answerKey", numbers=True).strip()
    if key not in labels:
        raise RecordMismatch("answerKey", f"'{key}' is not one of the labels {labels}")
    gold = labels.index(key)
    return texts[gold], gold


def from_hf_arc(d: dict) -> Converted:
    texts, labels = _labelled_choices(d, "choices")
    answer, gold = _keyed_answer(d, texts, labels)
    return _str(d, "question"), texts, answer, {"gold": gold}


def from_hf_openbookqa(d: dict) -> Converted:
    texts, labels = _labelled_choices(d, "choices")
    answer, gold = _keyed_answer(d, texts, labels)
    return _str(d, "question_stem"), texts, answer, {"gold": gold}


def from_hf_piqa(d: dict) -> Converted:
    choices = [_str(d, "sol1"), _str(d, "sol2")]
    gold = _index(d, "label", 2)
    return _str(d, "goal"), choices, choices[gold], {"gold": gold}


def from_hf_hellaswag(d: dict) -> Converted:
    """HellaSwag: "activity: context" and the four endings (label is a digit string in HF)."""
    choices = _choices(d, "endings")
    gold = _index(d, "label", len(choices))
    ctx = _str(d, "ctx")
    activity = d.get("activity_label")
    question = f"{activity}: {ctx}" if isinstance(activity, str) and activity.strip() else ctx
    return question, choices, choices[gold], {"gold": gold}


def from_hf_sciq(d: dict) -> Converted:
    """SciQ: the three distractors then the correct answer (OLMES's choice order)."""
    answer = _str(d, "correct_answer", numbers=True)
    choices = [_str(d, f"distractor{i}", numbers=True) for i in (1, 2, 3)] + [answer]
    return _str(d, "question"), choices, answer, {"gold": 3}


def from_hf_boolq(d: dict) -> Converted:
    """BoolQ: a yes/no question; its passage stays in meta (it is context, not the item)."""
    value = _get(d, "answer")
    if not isinstance(value, bool):
        raise RecordMismatch("answer", f"must be true or false, got {_kind(value)}")
    meta: dict = {"gold": 0 if value else 1}
    if isinstance(d.get("passage"), str):
        meta["passage"] = d["passage"]
    return _str(d, "question"), ["yes", "no"], "yes" if value else "no", meta


CONVERTERS: dict[str, Callable[[dict], Converted]] = {
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


def field_map_converter(mapping: dict[str, str]) -> Callable[[dict], Converted]:
    def convert(d: dict) -> Converted:
        question = _str(d, mapping["question"])
        choices = _choices(d, mapping["choices"]) if "choices" in mapping else None
        if "answer" in mapping:
            return question, choices, _str(d, mapping["answer"], numbers=True), {}
        assert choices is not None  # parse_field_map requires choices with gold
        gold = _index(d, mapping["gold"], len(choices))
        return question, choices, choices[gold], {"gold": gold}

    return convert


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
) -> BenchmarkRead:
    """Every example of a benchmark (one or more files, e.g. an HF arrow dir's shards).

    `fmt` "auto" detects the format from the first record; "olmes" unwraps request files
    (also done automatically). Bad records raise InputError, or with `skip_bad` are listed in
    `skipped` (and passed to `on_skip`). Ids must be unique; without ids, examples are numbered
    from 0 in file order.
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
    for source in sources:
        records = iter_records(source, skip_bad=skip_bad, on_skip=bad)
        for item in _items(records, olmes, bad):
            if chosen is None:
                chosen = _detect(item)
            if convert is None:
                convert = CONVERTERS[chosen]
            example = _example(item, convert, chosen, field_map, len(examples), bad)
            if example is None or not _unique(example, item.rec, first_seen, bad):
                continue
            examples.append(example)
    if not examples:
        raise InputError(
            "no examples" + (f" ({len(skipped)} bad records skipped)" if skipped else ""),
            file=", ".join(s.name for s in sources) or None,
            fix="check the file and --format",
        )
    name = chosen or "?"
    return BenchmarkRead(f"olmes:{name}" if olmes["on"] else name, examples, skipped)


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
) -> Example | None:
    """The item as an Example, or None after reporting why it does not fit `fmt`."""
    try:
        question, choices, answer, meta = convert(item.data)
        ext_id = item.ext_id
        if field_map and "id" in field_map:
            ext_id = _str(item.data, field_map["id"], numbers=True)
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
    text = example_text(question, choices, answer)
    return Example(ext_id, question, choices, answer, text, meta)


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
