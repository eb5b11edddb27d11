"""Importing documents (a job: chunked, resumable) and benchmarks (one transaction).

`import_docs_spec` does every check that needs no reading of the data (name free and printable,
files present) before a job is queued; the job itself reports bad records with file, line and
field.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError, UsageError
from engine.ingest.benchmarks import FORMATS
from engine.ingest.sources import Source
from engine.jobs.specs import ImportDocsSpec
from engine.store import catalog
from engine.terminal import check_name
from engine.workspace import Workspace

BENCHMARK_FORMATS = FORMATS  # `betr import bench --format`: the layouts, for the faces


def import_docs_spec(
    workspace: Workspace,
    *,
    corpus: str,
    paths: Sequence[str],
    text_field: str = "text",
    id_field: str | None = None,
    meta_fields: Sequence[str] = (),
    tokenizer: str | None = None,
    skip_bad: bool = False,
) -> ImportDocsSpec:
    """The checked spec of an import into the new corpus `corpus`. Paths are made absolute (the
    worker may not share the caller's working directory)."""
    from engine.ingest.readers import expand_sources

    spec = ImportDocsSpec(
        corpus=corpus,
        paths=tuple(os.path.abspath(os.path.expanduser(p)) for p in paths),
        text_field=text_field,
        id_field=id_field,
        meta_fields=tuple(meta_fields),
        tokenizer=tokenizer,
        skip_bad=skip_bad,
    )
    if not corpus or not corpus.strip():
        raise UsageError("the corpus name is empty", fix="pass --corpus NAME")
    check_name("corpus", corpus)
    with closing(workspace.connect(readonly=True)) as conn:
        row = catalog.corpus_by_name(conn, corpus)
    if row is not None:
        raise UsageError(
            f"corpus '{corpus}' already exists ({row['n_docs']} docs, {row['state']})",
            fix=f"choose another --corpus name, or delete it first: betr delete corpus {corpus}",
        )
    if not spec.paths:
        raise UsageError("no input files given", fix="betr import docs PATH... --corpus NAME")
    expand_sources(spec.paths)
    return spec


@dataclass
class BenchImportResult:
    benchmark: str
    benchmark_id: int
    format: str
    examples: int
    skipped: int
    skipped_examples: list[str]
    text_fields: list[str]  # what its texts were made from (question, answer, support, ...)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def import_benchmark(
    workspace: Workspace,
    sources: list[Source],
    name: str,
    *,
    category: str | None = None,
    split: str | None = None,
    fmt: str = "auto",
    field_map: dict[str, str] | None = None,
    skip_bad: bool = False,
    text_fields: tuple[str, ...] | None = None,
) -> BenchImportResult:
    """One benchmark's examples into the workspace, in one transaction. Each example's text
    is made of `text_fields` (default: the paper's question, answer, context), and the fields
    that made them are recorded with the benchmark."""
    from engine.ingest.benchmarks import PAPER_TEXT, read_benchmark

    if not name or not name.strip():
        raise UsageError("the benchmark name is empty", fix="pass --name NAME")
    check_name("benchmark", name)
    with closing(workspace.connect()) as conn:
        row = catalog.benchmark_by_name(conn, name)
        if row is not None:
            raise UsageError(
                f"benchmark '{name}' already exists ({row['n_examples']} examples)",
                fix=f"choose another --name, or delete it first: betr delete benchmark {name}",
            )
        skipped: list[InputError] = []
        read = read_benchmark(
            sources,
            fmt,
            field_map=field_map,
            skip_bad=skip_bad,
            on_skip=skipped.append,
            text_fields=text_fields or PAPER_TEXT,
        )
        skipped = read.skipped or skipped
        bench_id = catalog.insert_benchmark(
            conn,
            name=name,
            category=category,
            split=split,
            fmt=read.format,
            sources=[s.name for s in sources],
            examples=read.examples,
            skipped=len(skipped),
            text_fields=read.text_fields,
        )
    return BenchImportResult(
        benchmark=name,
        benchmark_id=bench_id,
        format=read.format,
        examples=len(read.examples),
        skipped=len(skipped),
        skipped_examples=[str(e).split("\n  fix:")[0] for e in skipped[:20]],
        text_fields=read.text_fields,
    )


def import_benchmark_files(
    workspace: Workspace,
    paths: Sequence[str],
    name: str,
    *,
    field_map: str | None = None,
    fmt: str = "auto",
    text_fields: str | None = None,
    **kwargs: Any,
) -> BenchImportResult:
    """`betr import bench`: files (absolute paths are recorded) with an optional field map
    ("question=prompt,answer=target"), which implies `--format field-map`."""
    from engine.ingest.benchmarks import parse_field_map, parse_text_fields
    from engine.ingest.readers import expand_sources

    mapping = parse_field_map(field_map) if field_map else None
    kwargs["text_fields"] = parse_text_fields(text_fields)
    if mapping and fmt == "auto":
        fmt = "field-map"
    sources = expand_sources([os.path.abspath(p) for p in paths])
    return import_benchmark(workspace, sources, name, fmt=fmt, field_map=mapping, **kwargs)
