"""`mask`: JSON Lines (or a JSON array) {id?, question, reasoning with <span>...</span>}; the
spans are recorded on the clean text, no probabilities. A record without an id gets
`<file stem>-<line>`. Field map names: id, question, reasoning, gold, benchmark.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.errors import InputError
from engine.rbridge.formats.records import (
    Fields,
    Loc,
    TraceRecord,
    each_record,
    non_empty,
    stem_of,
)
from engine.rbridge.weights import mask_spans

MASK_FIELDS = {k: (k,) for k in ("id", "question", "reasoning", "gold", "benchmark")}


def read_mask(paths: list[str], fields: Fields) -> Iterator[TraceRecord | InputError]:
    return each_record(paths, mask_record, fields)


def mask_record(loc: Loc, rec: dict, f: Fields) -> TraceRecord:
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
