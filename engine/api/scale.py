"""Scale-out use cases: the checked specs of `betr apply --engine ray` and
`betr embed --engine ray` (the jobs: engine.jobs.kinds.ray_jobs).

Paths become absolute (the worker may not share the caller's working directory), the inputs
must name files, Ray must be installed (a UsageError says how to install it otherwise), and for
apply the run must be trained or applied, with its classifier and a tokenizer to count with.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import closing

from engine.errors import UsageError
from engine.exec.ray import import_ray
from engine.exec.ray_shards import check_out_dir, expand_inputs
from engine.jobs.kinds.ray_jobs import apply_inputs
from engine.jobs.specs import RayApplySpec, RayEmbedSpec
from engine.jobs.table import refuse_if_in_use
from engine.workspace import Workspace


def _common(inputs: Sequence[str], out_dir: str | None) -> tuple[tuple[str, ...], str]:
    if not inputs:
        raise UsageError("--engine ray needs --input", fix="e.g. --input 'shards/*.jsonl.gz'")
    if not out_dir:
        raise UsageError("--engine ray needs --out DIR (one Parquet file per input shard)")
    import_ray()  # fails with the install command when the extra is missing
    absolute = tuple(
        os.path.abspath(os.path.expanduser(p)) for p in inputs
    )  # globs stay globs, anchored
    expand_inputs(absolute)  # every pattern names at least one readable shard
    out = os.path.abspath(os.path.expanduser(out_dir))
    check_out_dir(out)
    return absolute, out


def ray_apply_spec(
    workspace: Workspace,
    run_id: int,
    *,
    inputs: Sequence[str],
    out_dir: str | None,
    address: str = "local",
    actors: int = 2,
    actor_cpus: float | None = None,
    batch_size: int = 4096,
    num_cpus: int | None = None,
    text_field: str = "text",
    id_field: str | None = None,
    tokenizer: str | None = None,
) -> RayApplySpec:
    """The spec of a Ray apply of run `run_id`'s classifier over the shards `inputs`."""
    paths, out = _common(inputs, out_dir)
    with closing(workspace.connect(readonly=True)) as conn:
        _run, _art, corpus_tokenizer = apply_inputs(conn, run_id)
        refuse_if_in_use(conn, "run", run_id, str(run_id))
    tok = tokenizer or corpus_tokenizer
    if tokenizer is None:
        from engine.tokenize import load_tokenizer

        try:
            load_tokenizer(tok)
        except UsageError:
            raise UsageError(
                f"the corpus's tokenizer '{tok}' cannot be loaded by name",
                fix="pass --tokenizer (a bundled name, a tokenizer.json or a model directory)",
            ) from None
    elif os.path.exists(os.path.expanduser(tokenizer)):
        tok = os.path.abspath(os.path.expanduser(tokenizer))
    return RayApplySpec(
        run_id=run_id,
        inputs=paths,
        out_dir=out,
        address=address,
        num_cpus=num_cpus,
        actors=actors,
        actor_cpus=actor_cpus,
        batch_size=batch_size,
        text_field=text_field,
        id_field=id_field,
        tokenizer=tok,
    )


def ray_embed_spec(
    *,
    inputs: Sequence[str],
    out_dir: str | None,
    embedder: str | None = None,
    address: str = "local",
    actors: int = 1,
    actor_cpus: float | None = None,
    batch_size: int = 256,
    num_cpus: int | None = None,
    device: str = "auto",
    text_field: str = "text",
    id_field: str | None = None,
) -> RayEmbedSpec:
    """The spec of a Ray embedding of the shards `inputs`."""
    paths, out = _common(inputs, out_dir)
    if embedder and os.path.exists(os.path.expanduser(embedder)):
        embedder = os.path.abspath(os.path.expanduser(embedder))
    return RayEmbedSpec(
        inputs=paths,
        out_dir=out,
        embedder=embedder,
        address=address,
        num_cpus=num_cpus,
        actors=actors,
        actor_cpus=actor_cpus,
        batch_size=batch_size,
        device=device,
        text_field=text_field,
        id_field=id_field,
    )
