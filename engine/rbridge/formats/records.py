"""What every trace format shares: the TraceRecord, reading JSON / JSON Lines files, the field
map, and errors that name the file, the line (or array index), the field and the fix.

Invariants: a record's `source` names where it came from (`file:line` for JSON Lines,
`file[index]` for a JSON array, 0-based); every InputError about a record carries the same
place; a reader yields either a TraceRecord or the InputError of one bad record, so the
caller decides between stopping (the default) and skipping.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import InputError, UsageError
from engine.rbridge.letters import (
    context,
    decode_reasoning,
    first_difference,
    letter_probs_from_tokens,
    reasoning_letter_probs,
)

RECORD_FIX = "fix or delete that record, or pass --skip-bad to skip bad records"


@dataclass
class TraceRecord:
    ext_id: str
    question: str
    reasoning: str
    letter_probs: np.ndarray | None  # float64, one p per character of `reasoning`
    gold: str | None
    final_answer: str | None
    spans: list[tuple[int, int]] | None  # `mask` format: scored [start, end) in `reasoning`
    source: str  # "file:line" or "file[index]"
    benchmark: str | None


@dataclass(frozen=True)
class Loc:
    """Where one record is: a file and a 1-based line (JSONL) or 0-based index (JSON array)."""

    file: str
    pos: int
    unit: str = "line"  # "line" or "index"

    @property
    def label(self) -> str:
        return f"{self.file}:{self.pos}" if self.unit == "line" else f"{self.file}[{self.pos}]"

    def error(self, message: str, *, field: str | None = None, fix: str | None = None):
        return InputError(
            message,
            file=self.file,
            line=self.pos,
            unit=self.unit,
            field=field,
            fix=fix or RECORD_FIX,
        )

    def relocate(self, exc: InputError, field: str | None = None) -> InputError:
        """An InputError raised without a place (by the pure letter code), placed here."""
        return self.error(exc.bare_message, field=field or exc.field, fix=exc.fix)


class Fields:
    """The field names of one format: `field_map` {name: field} overrides the defaults, each
    a tuple of field names tried in order."""

    def __init__(self, fmt: str, defaults: dict[str, tuple[str, ...]], field_map: dict | None):
        unknown = sorted(set(field_map or {}) - set(defaults))
        if unknown:
            raise UsageError(
                f"--field-map: unknown name '{unknown[0]}' for the {fmt} format",
                fix=f"use names from: {', '.join(defaults)}",
            )
        self.names = {
            k: ((field_map or {})[k],) if k in (field_map or {}) else v for k, v in defaults.items()
        }

    def find(self, obj: dict, key: str) -> tuple[str, Any]:
        """(field name, value) of the first field present, or (first name, None)."""
        for name in self.names[key]:
            if name in obj:
                return name, obj[name]
        return self.names[key][0], None

    def text(self, obj: dict, key: str, loc: Loc, *, required: bool = True) -> str | None:
        """A string field (a number is accepted for ids and gold answers)."""
        name, value = self.find(obj, key)
        if value is None:
            if required:
                tried = " or ".join(f"'{n}'" for n in self.names[key])
                raise loc.error(
                    f"missing {tried}",
                    field=name,
                    fix=f"add the field, or map another with --field-map {key}=FIELD",
                )
            return None
        if isinstance(value, str):
            return value
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if numeric and key in ("id", "trace_id", "gold", "final_answer"):
            return str(value)
        if key in ("gold", "final_answer"):
            return json.dumps(value, ensure_ascii=False)
        raise loc.error(f"expected a string, got {kind(value)}", field=name, fix=RECORD_FIX)


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def load_json(path: str) -> Any:
    """A whole JSON file (.gz/.zst by name), read by the importers' shared reader
    (engine.ingest.json_records.load_json_document: UTF-8, nesting, huge numbers, lone surrogates
    are InputErrors naming the file)."""
    from engine.ingest.json_records import load_json_document
    from engine.ingest.sources import PathSource

    return load_json_document(PathSource(Path(path)))


def iter_json_items(path: str) -> Iterator[tuple[Loc, dict | InputError]]:
    """Each record of a JSON Lines file (blank lines skipped; lines end at "\n" only) or of
    a JSON array file (the first non-blank character is '['), .gz/.zst by name, with its
    place; a bad record comes as an InputError. The importers' shared reader
    (engine.ingest.json_records.iter_json_records) does the reading."""
    from engine.ingest.json_records import iter_json_records
    from engine.ingest.sources import PathSource

    for rec in iter_json_records(PathSource(Path(path)), any_array=True):
        if isinstance(rec, InputError):
            yield Loc(path, rec.line or 0, "index" if rec.unit == "item" else "line"), rec
        elif rec.unit == "item":  # a JSON array's item N is index N - 1
            yield Loc(path, rec.line - 1, "index"), rec.data
        else:
            yield Loc(path, rec.line), rec.data


def check_spells(text: str, completion: str, loc: Loc, field: str) -> None:
    """The logprob tokens must spell the completion exactly; a prefix means the
    log-probabilities were cut short."""
    if text == completion:
        return
    at = first_difference(completion, text)
    if completion.startswith(text):
        raise loc.error(
            f"truncated log-probabilities: the tokens cover only the first {len(text)} of "
            f"{len(completion)} characters of the completion",
            field=field,
            fix="export the log-probabilities of every token of the completion",
        )
    raise loc.error(
        f"the logprob tokens do not concatenate to the completion: first difference at "
        f"character {at}: completion {context(completion, at)} vs tokens {context(text, at)}",
        field=field,
        fix="import the completion the log-probabilities were reported for (nothing is guessed)",
    )


def openai_completion(body: dict, loc: Loc) -> tuple[str, list | None]:
    """(message content, logprobs.content list or None) of a chat-completion body."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise loc.error("no choices[0] in the chat completion", field="choices")
    choice = choices[0]
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise loc.error(
            f"choices[0].message.content is {kind(content)}, not a string",
            field="choices[0].message.content",
        )
    logprobs = choice.get("logprobs")
    items = logprobs.get("content") if isinstance(logprobs, dict) else None
    if logprobs is not None and not isinstance(items, list):
        raise loc.error(
            "choices[0].logprobs has no list 'content'", field="choices[0].logprobs.content"
        )
    return content, items


def token_entries(
    items: list, loc: Loc, field: str
) -> tuple[list[str], list[float], list[list[int] | None] | None]:
    """(tokens, logprobs, bytes or None) from OpenAI-style {token, logprob, bytes} entries."""
    tokens, lps, raw = [], [], []
    for i, it in enumerate(items):
        if not isinstance(it, dict) or not isinstance(it.get("token"), str):
            raise loc.error(f"entry {i} has no string 'token'", field=f"{field}[{i}].token")
        lp = it.get("logprob")
        if lp is None:
            raise loc.error(
                f"token {i} has no logprob (missing log-probability)",
                field=f"{field}[{i}].logprob",
                fix="export the log-probabilities of every token",
            )
        tokens.append(it["token"])
        lps.append(lp)
        raw.append(it.get("bytes"))
    return tokens, lps, (raw if any(b is not None for b in raw) else None)


def letters_for(
    tokens: list[str],
    lps: list,
    raw: list | None,
    completion: str,
    loc: Loc,
    field: str,
    *,
    ext_id: str = "",
) -> tuple[str, np.ndarray, str | None]:
    """(R, p per character of R, final_answer) of a completion and its logprob tokens."""
    where = f"trace '{ext_id}'" if ext_id else ""
    try:
        text, p = letter_probs_from_tokens(tokens, lps, token_bytes=raw, where=where)
    except InputError as exc:
        raise loc.relocate(exc, field) from None
    check_spells(text, completion, loc, field)
    try:
        return reasoning_letter_probs(text, p, where=where)
    except InputError as exc:
        raise loc.relocate(exc) from None


def decoded(completion: str, loc: Loc) -> tuple[str, str | None]:
    """(R, final_answer) of a completion without log-probabilities."""
    try:
        return decode_reasoning(completion)
    except InputError as exc:
        raise loc.relocate(exc) from None


def non_empty(reasoning: str, loc: Loc, field: str) -> str:
    if not reasoning.strip():
        raise loc.error("the reasoning is empty", field=field, fix=RECORD_FIX)
    return reasoning


def stem_of(path: str) -> str:
    return Path(path).stem


def expand_paths(paths: list[str]) -> list[str]:
    """A directory stands for its .jsonl and .json files, in name order."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            out += sorted(str(q) for q in Path(p).iterdir() if q.suffix in (".jsonl", ".json"))
        else:
            out.append(p)
    return out


def each_record(
    paths: list[str], reader: Callable[[Loc, dict, Fields], TraceRecord], fields: Fields
) -> Iterator[TraceRecord | InputError]:
    """reader(loc, record, fields) of every record of the JSON / JSON Lines files (a directory
    stands for its .jsonl and .json files), or the InputError of a bad one."""
    for path in expand_paths(paths):
        for loc, obj in iter_json_items(path):
            if isinstance(obj, InputError):
                yield obj
                continue
            try:
                yield reader(loc, obj, fields)
            except InputError as exc:
                yield exc
