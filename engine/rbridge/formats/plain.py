"""`plain`: JSON Lines {id, benchmark, question, reasoning, tokens: [[token, logprob], ...]}
(`tokens` optional: no probabilities; a third element per token may give its UTF-8 bytes).
The tokens must spell the reasoning, or a JSON answer whose decoded reasoning is it.
Field map names: id, benchmark, question, reasoning, tokens, gold, final_answer.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.errors import InputError
from engine.rbridge.formats.records import Fields, Loc, TraceRecord, each_record, kind, non_empty
from engine.rbridge.letters import align_letter_probs, letter_probs_from_tokens

PLAIN_FIELDS = {
    k: (k,) for k in ("id", "benchmark", "question", "reasoning", "tokens", "gold", "final_answer")
}


def read_plain(paths: list[str], fields: Fields) -> Iterator[TraceRecord | InputError]:
    return each_record(paths, plain_record, fields)


def plain_tokens(value, loc: Loc, field: str):
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


def plain_record(loc: Loc, rec: dict, f: Fields) -> TraceRecord:
    ext_id = f.text(rec, "id", loc)
    question = f.text(rec, "question", loc)
    r_field = f.names["reasoning"][0]
    reasoning = non_empty(f.text(rec, "reasoning", loc), loc, r_field)
    t_field, t_value = f.find(rec, "tokens")
    probs = None
    if t_value is not None:
        tokens, lps, raw = plain_tokens(t_value, loc, t_field)
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
