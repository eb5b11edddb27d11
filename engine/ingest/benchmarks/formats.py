"""Benchmark formats: which layout a record has, and how each layout becomes (question, choices,
answer, meta). A record that does not fit raises `RecordMismatch` naming the field; the reader
(engine.ingest.benchmarks) turns it into an InputError with the file and line. CONVERTERS is
the registry of layouts (a new one: one converter, one entry, one test).

Text that gets embedded (questions, contexts, solutions) must be a string, as a document's text
must; an answer or a key may also be a number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

LETTER_OPTION = re.compile(r"^\s*([A-Z])\.\s+(.*)$")
OLMES_INSTRUCTIONS = ("Choose the best continuation:",)  # lines between a question and its options

Converted = tuple[str, list[str] | None, str, dict]  # question, choices, answer, meta


class RecordMismatch(Exception):
    """A record does not fit its format: which field, and what is wrong with it."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


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


def text_of(data: dict, name: str, *, numbers: bool = False) -> str:
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
    answer = text_of(d, "answer", numbers=True)
    meta = {"short_answer": answer.rsplit("####", 1)[1].strip()} if "####" in answer else {}
    return text_of(d, "question"), None, answer, meta


def from_math(d: dict) -> Converted:
    """MATH: the answer is the solution; the short answer, level and subject go to meta."""
    meta = {k: d[k] for k in ("answer", "level", "type", "subject") if d.get(k) is not None}
    return text_of(d, "problem"), None, text_of(d, "solution"), meta


def from_mc(d: dict) -> Converted:
    """query/choices/gold (llm-foundry, OLMES docs; MMLU's question/choices/answer index):
    the answer is choices[gold]."""
    choices = _choices(d, "choices")
    gold = _index(d, "gold" if "gold" in d or "answer" not in d else "answer", len(choices))
    question = _clean_query(
        text_of(d, "query" if "query" in d or "question" not in d else "question")
    )
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
    return text_of(d, "prompt"), None, text_of(d, "canonical_solution"), meta


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
    key = text_of(d, "answerKey", numbers=True).strip()
    if key not in labels:
        raise RecordMismatch("answerKey", f"'{key}' is not one of the labels {labels}")
    gold = labels.index(key)
    return texts[gold], gold


def from_hf_arc(d: dict) -> Converted:
    texts, labels = _labelled_choices(d, "choices")
    answer, gold = _keyed_answer(d, texts, labels)
    return text_of(d, "question"), texts, answer, {"gold": gold}


def from_hf_openbookqa(d: dict) -> Converted:
    texts, labels = _labelled_choices(d, "choices")
    answer, gold = _keyed_answer(d, texts, labels)
    return text_of(d, "question_stem"), texts, answer, {"gold": gold}


def from_hf_piqa(d: dict) -> Converted:
    choices = [text_of(d, "sol1"), text_of(d, "sol2")]
    gold = _index(d, "label", 2)
    return text_of(d, "goal"), choices, choices[gold], {"gold": gold}


def from_hf_hellaswag(d: dict) -> Converted:
    """HellaSwag: "activity: context" and the four endings (label is a digit string in HF)."""
    choices = _choices(d, "endings")
    gold = _index(d, "label", len(choices))
    ctx = text_of(d, "ctx")
    activity = d.get("activity_label")
    question = f"{activity}: {ctx}" if isinstance(activity, str) and activity.strip() else ctx
    return question, choices, choices[gold], {"gold": gold}


def from_hf_sciq(d: dict) -> Converted:
    """SciQ: the three distractors then the correct answer (OLMES's choice order)."""
    answer = text_of(d, "correct_answer", numbers=True)
    choices = [text_of(d, f"distractor{i}", numbers=True) for i in (1, 2, 3)] + [answer]
    return text_of(d, "question"), choices, answer, {"gold": 3}


def from_hf_boolq(d: dict) -> Converted:
    """BoolQ: a yes/no question; its passage stays in meta (it is context, not the item)."""
    value = _get(d, "answer")
    if not isinstance(value, bool):
        raise RecordMismatch("answer", f"must be true or false, got {_kind(value)}")
    meta: dict = {"gold": 0 if value else 1}
    if isinstance(d.get("passage"), str):
        meta["passage"] = d["passage"]
    return text_of(d, "question"), ["yes", "no"], "yes" if value else "no", meta


# the registry of benchmark layouts: name -> its converter (a record -> Converted); the reader
# adds "auto" (detected), "olmes" (request files, unwrapped) and "field-map" (--field-map)
CONVERTERS: dict[str, Callable[[dict], Converted]] = {
    "gsm8k": from_gsm8k,
    "math": from_math,
    "mc": from_mc,
    "humaneval": from_humaneval,
    "hf-arc": from_hf_arc,
    "hf-piqa": from_hf_piqa,
    "hf-hellaswag": from_hf_hellaswag,
    "hf-sciq": from_hf_sciq,
    "hf-openbookqa": from_hf_openbookqa,
    "hf-boolq": from_hf_boolq,
}


def field_map_converter(mapping: dict[str, str]) -> Callable[[dict], Converted]:
    def convert(d: dict) -> Converted:
        question = text_of(d, mapping["question"])
        choices = _choices(d, mapping["choices"]) if "choices" in mapping else None
        if "answer" in mapping:
            return question, choices, text_of(d, mapping["answer"], numbers=True), {}
        assert choices is not None  # parse_field_map requires choices with gold
        gold = _index(d, mapping["gold"], len(choices))
        return question, choices, choices[gold], {"gold": gold}

    return convert
