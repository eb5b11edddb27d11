"""`ray-apply` and `ray-embed`: a run's classifier, or an embedder, over sharded files on Ray
Data (engine.exec.scale: the operators as actors), one Parquet file out per input shard.

Progress is rows done / total: every shard's rows are counted up front (Parquet metadata, or
the non-blank lines of a JSONL file, as parallel Ray tasks), shards already written count as
done, and each shard an actor finishes advances the job through `ctx.commit_chunk` (which also
checks for a cancel request: the execution is then closed and a local Ray instance shut down;
the job ends cancelled; a cancel while the first shards run also arrives as the worker's
SIGTERM). A re-run or `resume` skips the shards whose file exists (each is written under a
temporary name, then renamed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from engine.betr.runs import require_state
from engine.errors import UsageError
from engine.exec.scale.adapter import run_shards
from engine.exec.scale.session import ray_session
from engine.exec.scale.shards import Shard, check_out_dir, count_rows, plan_shards
from engine.jobs.context import JobContext
from engine.jobs.kinds.checkpoints import RayShardsCheckpoint
from engine.jobs.specs import RayApplySpec, RayEmbedSpec
from engine.ops import Operator
from engine.ops.count_tokens import CountTokens
from engine.ops.embed import EmbedTexts
from engine.ops.fasttext_apply import FastTextApply
from engine.store import catalog
from engine.store import runs as store_runs


def apply_inputs(conn, run_id: int) -> tuple[dict[str, Any], Any, str | None]:
    """(run, its fastText artifact row, its corpus's tokenizer name) for a run that is trained
    or applied (UsageError otherwise, or when the classifier is missing)."""
    run = store_runs.get_run(conn, run_id)
    require_state(run, "trained", "applied", action="apply its classifier")
    art = store_runs.artifact(conn, run_id, "fasttext")
    if art is None:
        raise UsageError(
            f"run {run_id} has no classifier", fix=f"train it: betr train --run {run_id}"
        )
    corpus = next((c for c in catalog.list_corpora(conn) if c["id"] == run["corpus_id"]), None)
    return run, art, corpus["tokenizer"] if corpus else None


def run_ray_apply(ctx: JobContext, spec: RayApplySpec) -> dict[str, Any]:
    from engine.betr.classifier import file_sha256

    _, art, corpus_tokenizer = apply_inputs(ctx.conn, spec.run_id)
    model_path = ctx.workspace.root / art["path"]
    if not model_path.is_file() or file_sha256(model_path) != art["sha256"]:
        raise UsageError(
            f"{model_path} is missing or does not match the sha256 recorded for run {spec.run_id}",
            fix=f"retrain it: betr train --run {spec.run_id}",
        )
    tokenizer = spec.tokenizer or corpus_tokenizer
    if not tokenizer:
        raise UsageError("no tokenizer to count tokens with", fix="pass --tokenizer")
    operators = [  # p(positive), then the token count, of each text
        FastTextApply(model_path, art["sha256"], spec.run_id, batch_size=spec.batch_size),
        CountTokens(tokenizer, batch_size=spec.batch_size),
    ]
    out = _run(ctx, spec, operators, stage="ray-apply")
    return {"run_id": spec.run_id, "classifier": art["sha256"], "tokenizer": tokenizer, **out}


def run_ray_embed(ctx: JobContext, spec: RayEmbedSpec) -> dict[str, Any]:
    def operators_for(ray) -> list[Operator]:
        """The embedder on a GPU when the cluster has one (device auto or cuda)."""
        gpus = float(ray.cluster_resources().get("GPU", 0.0))
        use_gpu = spec.device in ("auto", "cuda") and gpus >= 1
        device = ("cuda" if use_gpu else "cpu") if spec.device == "auto" else spec.device
        if device.startswith("cuda") and gpus < 1:
            raise UsageError(
                f"--device {spec.device}: the Ray cluster has no GPU",
                fix="use --device auto or cpu, or a cluster with GPUs",
            )
        return [EmbedTexts(spec.embedder, device=device, batch_size=spec.batch_size)]

    out = _run(ctx, spec, operators_for, stage="ray-embed")
    return {"embedder": spec.embedder, **out}


def _run(
    ctx: JobContext,
    spec: RayApplySpec | RayEmbedSpec,
    operators: Sequence[Operator] | Callable[[Any], Sequence[Operator]],
    *,
    stage: str,
) -> dict[str, Any]:
    """Count, skip what is written, run the rest with progress per finished shard. `operators`
    may be a function of the connected Ray (what the cluster has decides the device)."""
    shards = plan_shards(spec.inputs, spec.out_dir)
    check_out_dir(spec.out_dir).mkdir(parents=True, exist_ok=True)
    skipped = [s for s in shards if s.done]
    state = RayShardsCheckpoint(stage, shards_done=len(skipped))
    with ray_session(spec.address, spec.num_cpus) as ray:
        if callable(operators):  # the embedder's device depends on the cluster's GPUs
            operators = operators(ray)
        ctx.check_cancel()
        counts = count_rows(ray, [s.source for s in shards])
        done = sum(n for s, n in zip(shards, counts, strict=True) if s.done)
        ctx.start_phase(sum(counts), "docs", done=done)
        ctx.log.info(
            "%d shard(s), %d row(s); %d shard(s) already written",
            len(shards),
            sum(counts),
            len(skipped),
        )

        def on_shard(shard: Shard, rows: int) -> None:
            nonlocal state
            state = dataclasses.replace(state, shards_done=state.shards_done + 1)
            ctx.log.info("wrote %s (%d rows)", shard.out, rows)

        written = run_shards(
            ray,
            shards,
            operators,
            actors=spec.actors,
            actor_cpus=spec.actor_cpus,
            text_field=spec.text_field,
            id_field=spec.id_field,
            local=spec.address == "local",
            on_batch=lambda n: ctx.advance(n, state),
            on_shard=on_shard,
        )
    ctx.advance(0, state)
    return {
        "out_dir": str(spec.out_dir),
        "shards": len(shards),
        "shards_skipped": len(skipped),
        "rows_written": written,
        "rows": ctx.done,
    }
