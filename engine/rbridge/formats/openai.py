"""`openai`: chat-completions JSON Lines, one completion per line, either the completion object
itself or a Batch API output line ({"custom_id", "response": {"status_code", "body"}}).
R and its letter probabilities come from `choices[0].message.content` and
`choices[0].logprobs.content[]` {token, logprob, bytes}; the tokens (their `bytes` when given)
must spell the content exactly. The id is `custom_id`, else `id`; the question is a top-level
`question` field, else the last user message of `messages` / `request.messages` /
`body.messages` when the line carries its request. Field map names: id, question, gold,
benchmark.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.errors import InputError
from engine.rbridge.formats.records import (
    Fields,
    Loc,
    TraceRecord,
    each_record,
    kind,
    letters_for,
    non_empty,
    openai_completion,
    token_entries,
)

OPENAI_FIELDS = {
    "id": ("custom_id", "id"),
    "question": ("question",),
    "gold": ("gold",),
    "benchmark": ("benchmark",),
}
NO_LOGPROBS_FIX = (
    "request the completions with logprobs=true, or import the traces with --format plain "
    "and no tokens (they are then scored with u = 1, or under `betr rbridge teacher-force`)"
)


def read_openai(paths: list[str], fields: Fields) -> Iterator[TraceRecord | InputError]:
    return each_record(paths, openai_record, fields)


def question_from_messages(rec: dict) -> str | None:
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


def openai_record(loc: Loc, rec: dict, f: Fields) -> TraceRecord:
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
    question = f.text(rec, "question", loc, required=False) or question_from_messages(rec)
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
