"""Frontier jobs (METHODS 2, point 6 and trace generation): a local causal LM writes traces for a
benchmark's questions (`rbridge-generate`), or gives letter probabilities to imported traces that
have none (`rbridge-teacher-force`).

Both work in chunks of `batch_size` examples, each chunk's rows committed with the job's progress
and a checkpoint through `ctx.commit_chunk`. A resumed generate job skips examples that already
have a generated trace (ext_id "gen-<example ext_id>") and those that failed before (their ext_ids
and reasons live in the checkpoint); a resumed teacher-force job continues after the last trace
id it committed. Nothing is written for a failed example or trace: failures are counted and the
first 20 listed with their reason in the result.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from engine.errors import UsageError
from engine.jobs.context import JobContext
from engine.jobs.kinds.checkpoints import GenerateCheckpoint, TeacherForceCheckpoint
from engine.jobs.specs import GenerateSpec, TeacherForceSpec
from engine.ops.frontier import Generate, TeacherForce
from engine.rbridge.proxy_dir import check_model_dir, model_sha256
from engine.store import catalog, traces

LIST_FAILURES = 20


def _benchmark_name(conn, benchmark_id: int) -> str:
    for b in catalog.list_benchmarks(conn):
        if b["id"] == benchmark_id:
            return b["name"]
    raise UsageError(
        f"benchmark {benchmark_id} no longer exists",
        fix="list the benchmarks with: betr benchmarks",
    )


def _result(failures: list[dict[str, str]], skipped: int, **extra: Any) -> dict:
    return {
        **extra,
        "failed": len(failures),
        "failures": failures[:LIST_FAILURES],
        "skipped": skipped,
    }


# -- generate -------------------------------------------------------------------------------------
def run_generate(ctx: JobContext, spec: GenerateSpec) -> dict[str, Any]:
    conn = ctx.conn
    name = _benchmark_name(conn, spec.benchmark_id)
    sha = model_sha256(check_model_dir(spec.model))
    state = ctx.restore(GenerateCheckpoint)
    examples, todo, skipped = examples_to_generate(conn, spec, name, state)
    ctx.start_phase(len(examples), "examples", done=len(examples) - len(todo))
    op = Generate(
        spec.model,
        task=spec.task or name,
        max_new_tokens=spec.max_new_tokens,
        device=spec.device,
        batch_size=spec.batch_size,
    )
    if todo:
        op.setup()
        ctx.log.info(
            "generating %d traces for %s with %s on %s (%s), %s",
            len(todo),
            name,
            spec.model,
            op.loaded.device,
            op.loaded.dtype,
            "chat template" if op.uses_chat_template else "plain prompt",
        )
    t0 = time.monotonic()
    for start in range(0, len(todo), spec.batch_size):
        chunk = todo[start : start + spec.batch_size]
        rows, state = generate_chunk(ctx, op, chunk, state, sha)
        ctx.commit_chunk(
            lambda c, rows=rows: traces.insert_traces(c, spec.benchmark_id, rows),
            advance=len(chunk),
            checkpoint=state,
        )
    failures = list(state.failures)
    ctx.log.info(
        "generated %d traces, %d failed, %d skipped in %.1f s",
        state.generated,
        len(failures),
        skipped,
        time.monotonic() - t0,
    )
    return _result(
        failures,
        skipped,
        benchmark_id=spec.benchmark_id,
        model_sha256=sha,
        generated=state.generated,
        retried=state.retried,
    )


def examples_to_generate(
    conn, spec: GenerateSpec, name: str, state: GenerateCheckpoint
) -> tuple[list[dict], list[dict], int]:
    """The benchmark's examples (the first `limit`), those without a generated trace that did
    not fail before, and the number whose trace was there before this job started."""
    examples = catalog.benchmark_examples(conn, [name])
    if spec.limit is not None:
        examples = examples[: spec.limit]
    failed_ids = {f["ext_id"] for f in state.failures}
    have = traces.existing_ext_ids(conn, spec.benchmark_id)
    before = {f"gen-{e['ext_id']}" for e in examples} & have
    todo = [
        e for e in examples if f"gen-{e['ext_id']}" not in have and e["ext_id"] not in failed_ids
    ]
    return examples, todo, len(before) - state.generated


def generate_chunk(
    ctx: JobContext, op: Generate, chunk: list[dict], state: GenerateCheckpoint, sha: str
) -> tuple[list[dict[str, Any]], GenerateCheckpoint]:
    """The trace rows generated for a chunk of examples, and the checkpoint after it (an
    example that failed is counted with its reason and gets no row)."""
    out = op({"question": [e["question"] or e["text"] for e in chunk]})
    rows, failures, retried = [], [], 0
    for i, e in enumerate(chunk):
        retried += out["attempts"][i] > 1
        if out["error"][i] is not None:
            failures.append({"ext_id": e["ext_id"], "reason": out["error"][i]})
            ctx.log.info("example %s failed: %s", e["ext_id"], out["error"][i])
            continue
        ex = catalog.example(ctx.conn, e["id"]) or {}
        rows.append(
            {
                "ext_id": f"gen-{e['ext_id']}",
                "question": e["question"] or e["text"],
                "reasoning": out["reasoning"][i],
                "gold": ex.get("answer"),
                "final_answer": out["final_answer"][i],
                "letter_probs": np.asarray(out["letter_probs"][i], dtype=np.float32).tobytes(),
                "prob_source": "frontier",
                "spans": None,
                "format": "generated",
                "source": f"generated:{sha[:12]}",
            }
        )
    return rows, state.chunk_done(len(rows), retried, failures)


# -- teacher forcing ------------------------------------------------------------------------------
def run_teacher_force(ctx: JobContext, spec: TeacherForceSpec) -> dict[str, Any]:
    conn = ctx.conn
    name = _benchmark_name(conn, spec.benchmark_id)
    sha = model_sha256(check_model_dir(spec.model))
    rows = traces.trace_rows(conn, spec.benchmark_id)
    if not rows:
        raise UsageError(
            f"benchmark '{name}' has no traces",
            fix=f"import some first: betr rbridge import PATH --benchmark {name}",
        )
    state = ctx.restore(TeacherForceCheckpoint)
    if state.skipped is None:  # traces that had probabilities before this job
        had = 0 if spec.overwrite else sum(r["letter_probs"] is not None for r in rows)
        state = dataclasses.replace(state, skipped=had)
    todo = [
        r
        for r in rows
        if r["id"] > state.after_id and (spec.overwrite or r["letter_probs"] is None)
    ]
    ctx.start_phase(len(rows), "traces", done=len(rows) - len(todo))
    op = TeacherForce(
        spec.model, prompt=spec.prompt, device=spec.device, batch_size=spec.batch_size
    )
    if todo:
        op.setup()
        ctx.log.info(
            "teacher-forcing %d traces of %s with %s on %s (%s)",
            len(todo),
            name,
            spec.model,
            op.loaded.device,
            op.loaded.dtype,
        )
    source = f"teacher:{sha}"
    for start in range(0, len(todo), spec.batch_size):
        chunk = todo[start : start + spec.batch_size]
        writes, state = teacher_force_chunk(ctx, op, chunk, state)

        def write(c, writes=writes) -> None:
            for trace_id, blob in writes:
                traces.set_letter_probs(c, trace_id, blob, source)

        ctx.commit_chunk(write, advance=len(chunk), checkpoint=state)
    failures, forced, skipped = list(state.failures), state.teacher_forced, state.skipped
    ctx.log.info("teacher-forced %d traces, %d failed, %d skipped", forced, len(failures), skipped)
    return _result(
        failures,
        skipped,
        benchmark_id=spec.benchmark_id,
        model_sha256=sha,
        teacher_forced=forced,
        prob_source=source,
    )


def teacher_force_chunk(
    ctx: JobContext, op: TeacherForce, chunk: list[dict], state: TeacherForceCheckpoint
) -> tuple[list[tuple[int, bytes]], TeacherForceCheckpoint]:
    """(trace id, letter probabilities as float32 bytes) of each trace of a chunk scored, and
    the checkpoint after it (a trace that failed is counted with its reason)."""
    out = op(
        {
            "question": [r["question"] for r in chunk],
            "reasoning": [r["reasoning"] for r in chunk],
        }
    )
    writes, failures = [], []
    for r, probs, err in zip(chunk, out["letter_probs"], out["error"], strict=True):
        if err is not None:
            failures.append({"ext_id": r["ext_id"], "reason": err})
            ctx.log.info("trace %s failed: %s", r["ext_id"], err)
        else:
            writes.append((r["id"], np.asarray(probs, dtype=np.float32).tobytes()))
    return writes, state.chunk_done(chunk[-1]["id"], len(writes), failures)
