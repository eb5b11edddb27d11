"""The rBridge release layout: per benchmark a JSON array of completions (e.g.
`traces/gsm8k/gpt4o_s1_new.json`) and, next to it, per-token log-probabilities as JSON Lines
split into parts `<stem>_logprobs_partNN_of_MM.jsonl`, one row per token.

The release does not publish its field names, so every field goes through the field map
(OpenAI-like defaults):
- completions: `id` (missing: the 0-based array index, as text), `question`, `completion`
  (tried in order: completion, content, response, output; a string, or a whole chat-completion
  object whose choices[0].logprobs then serve when there are no parts), `gold`, `benchmark`;
- token rows: `trace_id` (default field `id`: the completion's id), `token`, `logprob`,
  `bytes` (optional UTF-8 bytes of the token).

Invariants: the parts of a stem are found next to its JSON file (or passed explicitly) and
must be exactly parts 1..MM of one MM, read in that order; a trace's token rows keep their
file order and must spell its completion; token rows for a trace that is not in the file, a
trace without token rows while parts exist, and a missing part are errors. A JSON file with no
parts at all gives traces without probabilities.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from engine.errors import InputError
from engine.rbridge.formats.records import (
    Fields,
    Loc,
    TraceRecord,
    decoded,
    iter_json_items,
    kind,
    letters_for,
    load_json,
    non_empty,
    openai_completion,
    token_entries,
)

RBRIDGE_FIELDS = {
    "id": ("id",),
    "question": ("question",),
    "completion": ("completion", "content", "response", "output"),
    "gold": ("gold",),
    "benchmark": ("benchmark",),
    "trace_id": ("id",),
    "token": ("token",),
    "logprob": ("logprob",),
    "bytes": ("bytes",),
}
PART_RE = re.compile(r"^(?P<stem>.+)_logprobs_part(?P<k>\d+)_of_(?P<m>\d+)\.jsonl$")


def read_rbridge(paths: list[str], f: Fields) -> Iterator[TraceRecord | InputError]:
    """Each trace of the given completions files (a directory stands for its files), or the
    InputError of one bad trace or token row. File-level problems raise."""
    arrays, parts = _classify(paths)
    for json_path in arrays:
        key = (os.path.dirname(json_path), Path(json_path).stem)
        found = _sibling_parts(json_path)
        found.update(parts.pop(key, {}))
        ordered = _check_parts(json_path, found)
        yield from _read_one(json_path, ordered, f)
    for (_dir, stem), given in parts.items():
        first = sorted(given)[0]
        raise InputError(
            f"a logprob part without its completions file {stem}.json",
            file=first,
            fix=f"pass {stem}.json too (its parts are then found next to it)",
        )


def _classify(paths: list[str]):
    arrays: list[str] = []
    parts: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
    files: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(str(q) for q in Path(p).iterdir() if q.suffix in (".json", ".jsonl"))
        else:
            files.append(p)
    for p in files:
        m = PART_RE.match(os.path.basename(p))
        if m:
            key = (os.path.dirname(p), m["stem"])
            parts.setdefault(key, {})[p] = (int(m["k"]), int(m["m"]))
        elif p not in arrays:
            arrays.append(p)
    return arrays, parts


def _sibling_parts(json_path: str) -> dict[str, tuple[int, int]]:
    stem, folder = Path(json_path).stem, Path(json_path).parent
    out = {}
    for q in folder.glob("*_logprobs_part*_of_*.jsonl"):
        m = PART_RE.match(q.name)
        if m and m["stem"] == stem:
            out[str(q)] = (int(m["k"]), int(m["m"]))
    return out


def _check_parts(json_path: str, found: dict[str, tuple[int, int]]) -> list[str]:
    """The part files in order 1..MM; InputError when the set is not exactly that."""
    if not found:
        return []
    stem = Path(json_path).stem
    counts = sorted({m for _k, m in found.values()})
    if len(counts) > 1:
        raise InputError(
            f"the logprob parts of {stem} disagree on their number ({' vs '.join(map(str, counts))})",
            file=json_path,
            fix="keep only the parts of one export next to the completions file",
        )
    total = counts[0]
    ks = Counter(k for k, _m in found.values())
    dup = sorted(k for k, n in ks.items() if n > 1)
    extra = sorted(k for k in ks if not 1 <= k <= total)
    missing = [k for k in range(1, total + 1) if k not in ks]
    if dup or extra or missing:
        what = (
            f"part {dup[0]} appears twice"
            if dup
            else f"part {extra[0]} is outside 1..{total}"
            if extra
            else f"missing logprob part{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(str, missing))} of {total}"
        )
        raise InputError(
            f"{what} for {stem}",
            file=json_path,
            fix=f"put every part {stem}_logprobs_partNN_of_{total:02d}.jsonl (NN = 1..{total}) "
            "next to the completions file",
        )
    return [p for p, _ in sorted(found.items(), key=lambda kv: kv[1][0])]


def _read_one(json_path: str, parts: list[str], f: Fields) -> Iterator[TraceRecord | InputError]:
    items = load_json(json_path)
    if not isinstance(items, list):
        raise InputError(
            f"expected a JSON array of completions, got {kind(items)}",
            file=json_path,
            fix="pass the completions file (a JSON array), e.g. traces/gsm8k/gpt4o_s1_new.json",
        )
    groups: dict[str, list] = {}
    bad: set[str] = set()
    seen: dict[str, str] = {}  # trace id -> where it first is
    yield from _token_groups(parts, f, groups, bad)
    for i, item in enumerate(items):
        loc = Loc(json_path, i, "index")
        try:
            rec = _trace(loc, item, f, groups, bad, bool(parts), seen)
        except InputError as exc:
            yield exc
            continue
        if rec is not None:
            yield rec
    for tid, group in groups.items():
        yield group[3].error(
            f"token rows for trace '{tid}', which is not in {os.path.basename(json_path)}",
            field=f.names["trace_id"][0],
            fix="check that the parts belong to this completions file and that --field-map "
            "id=... and trace_id=... name the same ids",
        )


def _token_groups(parts: list[str], f: Fields, groups: dict, bad: set) -> Iterator[InputError]:
    """Fill groups {trace id: [tokens, logprobs, bytes, first row's Loc]} from the parts in
    order; yield the error of each bad row (its trace, when known, goes into `bad`)."""
    (tid_name,), (tok_name,), (lp_name,), (b_name,) = (
        f.names["trace_id"],
        f.names["token"],
        f.names["logprob"],
        f.names["bytes"],
    )
    for path in parts:
        for loc, row in iter_json_items(path):
            if isinstance(row, InputError):
                yield row
                continue
            tid, tok, lp = row.get(tid_name), row.get(tok_name), row.get(lp_name)
            if isinstance(tid, int) and not isinstance(tid, bool):
                tid = str(tid)
            if not isinstance(tid, str) or not isinstance(tok, str) or lp is None:
                try:
                    tid = f.text(row, "trace_id", loc)
                    tok = f.text(row, "token", loc)
                    if lp is None:
                        raise loc.error(
                            "no logprob (missing log-probability)",
                            field=lp_name,
                            fix="export the log-probability of every token",
                        )
                except InputError as exc:
                    if isinstance(tid, str):
                        bad.add(tid)
                    yield exc
                    continue
            group = groups.get(tid)
            if group is None:
                group = groups[tid] = [[], [], [], loc]
            group[0].append(tok)
            group[1].append(lp)
            group[2].append(row.get(b_name))


def _trace(
    loc: Loc, item, f: Fields, groups: dict, bad: set, has_parts: bool, seen: dict[str, str]
) -> TraceRecord | None:
    if not isinstance(item, dict):
        raise loc.error(f"expected a JSON object, got {kind(item)}")
    ext_id = f.text(item, "id", loc, required=False)
    ext_id = str(loc.pos) if ext_id is None else ext_id
    if ext_id in seen:  # (before its token rows are taken: they belong to the first)
        raise loc.error(
            f"trace id '{ext_id}' appears twice (first at {seen[ext_id]})",
            field=f.names["id"][0],
            fix="give every completion its own id; --skip-bad keeps the first",
        )
    seen[ext_id] = loc.label
    if ext_id in bad:
        groups.pop(ext_id, None)
        return None  # its bad token row was reported
    question = f.text(item, "question", loc)
    c_name, value = f.find(item, "completion")
    lp_items = None
    if isinstance(value, dict) and "choices" in value:
        content, lp_items = openai_completion(value, loc)
    elif isinstance(value, str):
        content = value
    else:
        tried = " or ".join(f"'{n}'" for n in f.names["completion"])
        raise loc.error(
            f"missing {tried}" if value is None else f"expected a string, got {kind(value)}",
            field=c_name,
            fix="map the completion text with --field-map completion=FIELD",
        )
    group = groups.pop(ext_id, None)
    probs = None
    if group is not None:
        tokens, lps, raw, first = group
        raw = raw if any(b is not None for b in raw) else None
        try:
            reasoning, probs, final = letters_for(
                tokens, lps, raw, content, loc, c_name, ext_id=ext_id
            )
        except InputError as exc:
            raise loc.error(
                f"{exc.bare_message} (its token rows start at {first.label})",
                field=c_name,
                fix=exc.fix,
            ) from None
    elif lp_items is not None and not has_parts:
        field = f"{c_name}.choices[0].logprobs.content"
        tokens, lps, raw = token_entries(lp_items, loc, field)
        reasoning, probs, final = letters_for(tokens, lps, raw, content, loc, field, ext_id=ext_id)
    elif has_parts:
        raise loc.error(
            f"no log-probabilities for trace '{ext_id}' in the logprob parts (missing "
            "log-probabilities)",
            field=f.names["id"][0],
            fix="check that every trace has its token rows and that --field-map id=... and "
            "trace_id=... name the same ids",
        )
    else:
        reasoning, final = decoded(content, loc)
    return TraceRecord(
        ext_id=ext_id,
        question=question,
        reasoning=non_empty(reasoning, loc, c_name),
        letter_probs=probs,
        gold=f.text(item, "gold", loc, required=False),
        final_answer=final,
        spans=None,
        source=loc.label,
        benchmark=f.text(item, "benchmark", loc, required=False),
    )
