"""`betr import docs | bench | scores`: documents into a corpus (a job), a benchmark's examples,
a Ray apply's scores into a run (a job)."""

from __future__ import annotations

import click

from engine.cli.common import (
    BetrGroup,
    RegistryChoice,
    echo,
    emit_json,
    obj,
    report_skipped,
    run_job,
)


@click.group("import", cls=BetrGroup)
def import_group() -> None:
    """Import documents, benchmarks or a Ray apply's scores into the workspace."""


@import_group.command("docs")
@click.argument("paths", nargs=-1, required=True)
@click.option("--corpus", required=True, help="Name of the new corpus.")
@click.option("--text-field", default="text", show_default=True, help="Field holding the text.")
@click.option(
    "--id-field", default=None, help="Field holding the doc id (default: 'id' if present)."
)
@click.option("--meta", "meta_fields", multiple=True, help="Extra field to keep (repeatable).")
@click.option(
    "--tokenizer",
    default=None,
    help="Token counter: a bundled name (gpt-neox-olmo-dolma-v1_5, default) or a tokenizer.json path.",
)
@click.option(
    "--skip-bad", is_flag=True, help="Skip bad records and report them instead of failing."
)
@click.option("--detach", is_flag=True, help="Run as a background job and return at once.")
def import_docs(paths, corpus, text_field, id_field, meta_fields, tokenizer, skip_bad, detach):
    """Import JSONL (.gz/.zst), Parquet, CSV files or HF arrow dirs as corpus NAME."""
    from engine.api.imports import import_docs_spec

    spec = import_docs_spec(
        obj().workspace,
        corpus=corpus,
        paths=paths,
        text_field=text_field,
        id_field=id_field,
        meta_fields=meta_fields,
        tokenizer=tokenizer,
        skip_bad=skip_bad,
    )
    result = run_job(spec, detach)
    if result is None:
        return
    if obj().json:
        emit_json(result)
        return
    echo(
        f"imported {result['docs']} docs ({result['tokens']} {result['tokenizer']} tokens) "
        f"into corpus '{corpus}'"
    )
    report_skipped(result)


def _benchmark_formats() -> tuple[str, ...]:
    from engine.api.imports import BENCHMARK_FORMATS

    return BENCHMARK_FORMATS


@import_group.command("bench")
@click.argument("paths", nargs=-1, required=True)
@click.option("--name", required=True, help="Name of the benchmark.")
@click.option("--category", default=None, help="Category, e.g. math, science-qa, commonsense.")
@click.option("--split", default=None, help="Split name, e.g. test.")
@click.option(
    "--format",
    "fmt",
    type=RegistryChoice(_benchmark_formats),
    default="auto",
    show_default=True,
    help="The records' layout (auto: detected from the first record's fields).",
)
@click.option(
    "--field-map",
    default=None,
    help="Generic mapping, e.g. question=prompt,choices=options,answer=target (implies --format "
    "field-map); context=FIELD adds an extra context field to the text.",
)
@click.option(
    "--text-fields",
    default=None,
    help="What each example's text is made of: paper (the default: question, answer and any "
    "context field, e.g. SciQ's support), or a comma list of question, choices, answer, context.",
)
@click.option("--skip-bad", is_flag=True, help="Skip bad records and report them.")
def import_bench(paths, name, category, split, fmt, field_map, text_fields, skip_bad):
    """Import a benchmark file (or HF arrow dir): one example per question."""
    from engine.api.imports import import_benchmark_files

    result = import_benchmark_files(
        obj().workspace,
        paths,
        name,
        field_map=field_map,
        fmt=fmt,
        text_fields=text_fields,
        category=category,
        split=split,
        skip_bad=skip_bad,
    )
    if obj().json:
        emit_json(result.as_dict())
        return
    echo(
        f"imported {result.examples} examples into benchmark '{name}' (format {result.format}; "
        f"text: {', '.join(result.text_fields)})"
    )
    report_skipped(result.as_dict())


@import_group.command("scores")
@click.argument("directory")
@click.option("--run", "run_id", type=int, required=True, help="The run the scores belong to.")
@click.option("--detach", is_flag=True, help="Run as a background job and return at once.")
def import_scores(directory, run_id, detach):
    """Load the Parquet shards of `betr apply --engine ray --out DIRECTORY` into run RUN."""
    from engine.api.scale import import_scores_spec

    result = run_job(import_scores_spec(obj().workspace, run_id, directory), detach)
    if result is None:
        return
    if obj().json:
        emit_json(result)
        return
    echo(
        f"imported {result['docs']} probabilities from {result['shards']} shards into run "
        f"{run_id} (now applied)"
    )
    if result["token_mismatches"]:
        echo(
            f"note: {result['token_mismatches']} docs have other token counts in the shards "
            "than in the corpus; the corpus's counts are used",
            err=True,
        )


COMMANDS = (import_group,)
