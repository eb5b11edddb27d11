"""Reading reasoning traces in the four import formats (METHODS 2, "Import formats").

- `openai`: chat-completions JSON Lines, one completion per line, either the completion object
  itself or a Batch API output line ({"custom_id", "response": {"status_code", "body"}}).
  R and its letter probabilities come from `choices[0].message.content` and
  `choices[0].logprobs.content[]` {token, logprob, bytes}; the tokens (their `bytes` when
  given) must spell the content exactly. The id is `custom_id`, else `id`; the question is a
  top-level `question` field, else the last user message of `messages` / `request.messages` /
  `body.messages` when the line carries its request. Field map names: id, question, gold,
  benchmark.
- `rbridge`: the rBridge release layout (engine.rbridge.formats_rbridge).
- `mask`: JSON Lines (or a JSON array) {id?, question, reasoning with <span>...</span>}; the
  spans are recorded on the clean text, no probabilities. A record without an id gets
  `<file stem>-<line>`. Field map names: id, question, reasoning, gold, benchmark.
- `plain`: JSON Lines {id, benchmark, question, reasoning, tokens: [[token, logprob], ...]}
  (`tokens` optional: no probabilities; a third element per token may give its UTF-8 bytes).
  The tokens must spell the reasoning, or a JSON answer whose decoded reasoning is it.
  Field map names: id, benchmark, question, reasoning, tokens, gold, final_answer.

A gold answer is read from the optional `gold` field (a number becomes its text). Reading is
all or nothing: the first bad record raises its InputError (file, line or index, field, fix)
unless skip_bad, which skips it and returns its message. A trace id that appears twice is a
bad record (skip_bad keeps the first). Files are read by the importers' shared JSON reader
(engine.ingest.json_records): JSON Lines split on "\n" only, .gz/.zst by name, and nesting, huge
numbers and unpaired surrogates are precise errors.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from engine.errors import InputError, UsageError
from engine.rbridge.formats_rbridge import RBRIDGE_FIELDS, read_rbridge
from engine.rbridge.letters import align_letter_probs, letter_probs_from_tokens
from engine.rbridge.trace_io import (
    Fields,
    Loc,
    TraceRecord,
    iter_json_items,
    kind,
    letters_for,
    non_empty,
    openai_completion,
    stem_of,
    token_entries,
)
from engine.rbridge.weights import mask_spans

__all__ = ["FORMATS", "TraceRecord", "read_traces"]

OPENAI_FIELDS = {
    "id": ("custom_id", "id"),
    "question": ("question",),
    "gold": ("gold",),
    "benchmark": ("benchmark",),
}
PLAIN_FIELDS = {
    k: (k,) for k in ("id", "benchmark", "question", "reasoning", "tokens", "gold", "final_answer")
}
MASK_FIELDS = {k: (k,) for k in ("id", "question", "reasoning", "gold", "benchmark")}
FORMATS = ("openai", "rbridge", "mask", "plain")
NO_LOGPROBS_FIX = (
    "request the completions with logprobs=true, or import the traces with --format plain "
    "and no tokens (they are then scored with u = 1, or under `betr rbridge teacher-force`)"
)


def read_traces(
    paths: Sequence[str | Path],
    fmt: str,
    *,
    field_map: dict[str, str] | None = None,
    skip_bad: bool = False,
) -> tuple[list[TraceRecord], list[str]]:
    """(records, messages of the records skipped). The first bad record raises its
    InputError unless skip_bad; no record at all is an InputError too."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown trace format '{fmt}'", fix=f"use one of {', '.join(FORMATS)}")
    names = [str(p) for p in paths]
    if fmt == "rbridge":
        items: Iterator[TraceRecord | InputError] = read_rbridge(
            names, Fields(fmt, RBRIDGE_FIELDS, field_map)
        )
    else:
        defaults = {"openai": OPENAI_FIELDS, "plain": PLAIN_FIELDS, "mask": MASK_FIELDS}[fmt]
        reader = {"openai": _openai, "plain": _plain, "mask": _mask}[fmt]
        items = _records(_expand(names), reader, Fields(fmt, defaults, field_map))
    records: list[TraceRecord] = []
    skipped: list[str] = []
    first: dict[str, str] = {}  # trace id -> where it first is
    for item in items:
        if isinstance(item, TraceRecord) and item.ext_id in first:
            item = InputError(
                f"trace id '{item.ext_id}' appears twice (first at {first[item.ext_id]})",
                file=item.source, field="id",
                fix="give every trace its own id; --skip-bad keeps the first",
            )  # fmt: skip
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


def _expand(paths: list[str]) -> list[str]:
    """A directory stands for its .jsonl and .json files, in name order."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            out += sorted(str(q) for q in Path(p).iterdir() if q.suffix in (".jsonl", ".json"))
        else:
            out.append(p)
    return out


def _records(paths, reader, fields: Fields) -> Iterator[TraceRecord | InputError]:
    for path in paths:
        for loc, obj in iter_json_items(path):
            if isinstance(obj, InputError):
                yield obj
                continue
            try:
                yield reader(loc, obj, fields)
            except InputError as exc:
                yield exc


def _question_from_messages(rec: dict) -> str | None:
    """The last user message of the request a line carries, if any."""
    for holder in (rec, rec.get("request"), rec.get("body")):
        messages = holder.get("messages") if isinstance(holder, dict) else None
        if not isinstance(messages, list):
            continue
        for m in reversed(messages):
            if isinstance(m, dict) and m.get("role") == "user":
                content = m.get("content")
                if isinstance(content, list):  # content parts
                    content = (
                        "".join(c.get("text", "") for c in content if isinstance(c, dict)) or None
                    )
                if isinstance(content, str):
                    return content
    return None


def _openai(loc: Loc, rec: dict, f: Fields) -> TraceRecord:
    body = rec
    response = rec.get("response")
    if isinstance(response, dict) and "body" in response:  # a Batch API output line
        status = response.get("status_code")
        if status not in (None, 200):
            raise loc.error(f"the request failed (status {status})", field="response.status_code")
        body = response["body"]
        if not isinstance(body, dict):
            raise loc.error(f"response.body is {kind(body)}", field="response.body")
    if rec.get("error"):
        raise loc.error(f"the request failed: {rec['error']}", field="error")
    ext_id = f.text(rec, "id", loc, required=False)
    if ext_id is None:
        ext_id = f.text(body, "id", loc)
    question = f.text(rec, "question", loc, required=False) or _question_from_messages(rec)
    if question is None:
        raise loc.error(
            "no question: no 'question' field and no user message in the line",
            field=f.names["question"][0],
            fix="add a 'question' field to each line, or map one with --field-map question=FIELD",
        )
    content, items = openai_completion(body, loc)
    if items is None:
        raise loc.error(
            "missing log-probabilities", field="choices[0].logprobs", fix=NO_LOGPROBS_FIX
        )
    field = "choices[0].logprobs.content"
    tokens, lps, raw = token_entries(items, loc, field)
    reasoning, p, final = letters_for(tokens, lps, raw, content, loc, field, ext_id=ext_id)
    return TraceRecord(
        ext_id=ext_id,
        question=question,
        reasoning=non_empty(reasoning, loc, "choices[0].message.content"),
        letter_probs=p,
        gold=f.text(rec, "gold", loc, required=False),
        final_answer=final,
        spans=None,
        source=loc.label,
        benchmark=f.text(rec, "benchmark", loc, required=False),
    )


def _plain_tokens(value, loc: Loc, field: str):
    if not isinstance(value, list):
        raise loc.error(f"expected a list of [token, logprob], got {kind(value)}", field=field)
    tokens, lps, raw = [], [], []
    for i, t in enumerate(value):
        if not isinstance(t, list) or len(t) not in (2, 3) or not isinstance(t[0], str):
            raise loc.error(
                f"token {i}: expected [token, logprob] or [token, logprob, bytes], got {kind(t)}"
                + (f" of {len(t)}" if isinstance(t, list) else ""),
                field=f"{field}[{i}]",
            )
        if t[1] is None:
            raise loc.error(
                f"token {i} has no logprob (missing log-probability)",
                field=f"{field}[{i}]",
                fix="give every token its logprob, or drop `tokens` for a trace without them",
            )
        tokens.append(t[0])
        lps.append(t[1])
        raw.append(t[2] if len(t) == 3 else None)
    return tokens, lps, (raw if any(b is not None for b in raw) else None)


def _plain(loc: Loc, rec: dict, f: Fields) -> TraceRecord:
    ext_id = f.text(rec, "id", loc)
    question = f.text(rec, "question", loc)
    r_field = f.names["reasoning"][0]
    reasoning = non_empty(f.text(rec, "reasoning", loc), loc, r_field)
    t_field, t_value = f.find(rec, "tokens")
    probs = None
    if t_value is not None:
        tokens, lps, raw = _plain_tokens(t_value, loc, t_field)
        try:
            where = f"trace '{ext_id}'"
            text, p = letter_probs_from_tokens(tokens, lps, token_bytes=raw, where=where)
            probs = align_letter_probs(reasoning, text, p, where=where)
        except InputError as exc:
            raise loc.relocate(exc, t_field) from None
    return TraceRecord(
        ext_id=ext_id,
        question=question,
        reasoning=reasoning,
        letter_probs=probs,
        gold=f.text(rec, "gold", loc, required=False),
        final_answer=f.text(rec, "final_answer", loc, required=False),
        spans=None,
        source=loc.label,
        benchmark=f.text(rec, "benchmark", loc, required=False),
    )


def _mask(loc: Loc, rec: dict, f: Fields) -> TraceRecord:
    ext_id = f.text(rec, "id", loc, required=False) or f"{stem_of(loc.file)}-{loc.pos}"
    r_field = f.names["reasoning"][0]
    tagged = f.text(rec, "reasoning", loc)
    try:
        reasoning, spans = mask_spans(tagged)
    except InputError as exc:
        raise loc.relocate(exc, r_field) from None
    if not spans:
        raise loc.error(
            "no <span>...</span> in the reasoning: nothing to score",
            field=r_field,
            fix="mark the scored text with <span>...</span>, or import it with --format plain",
        )
    return TraceRecord(
        ext_id=ext_id,
        question=f.text(rec, "question", loc),
        reasoning=non_empty(reasoning, loc, r_field),
        letter_probs=None,
        gold=f.text(rec, "gold", loc, required=False),
        final_answer=None,
        spans=spans,
        source=loc.label,
        benchmark=f.text(rec, "benchmark", loc, required=False),
    )
