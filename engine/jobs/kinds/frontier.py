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

import time
from typing import Any

import numpy as np

from engine.errors import UsageError
from engine.jobs.context import JobContext
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
    examples = catalog.benchmark_examples(conn, [name])
    if spec.limit is not None:
        examples = examples[: spec.limit]
    cp = ctx.checkpoint or {}
    failures: list[dict[str, str]] = list(cp.get("failures", []))
    failed_ids = {f["ext_id"] for f in failures}
    have = traces.existing_ext_ids(conn, spec.benchmark_id)
    before = {f"gen-{e['ext_id']}" for e in examples} & have
    todo = [
        e for e in examples if f"gen-{e['ext_id']}" not in have and e["ext_id"] not in failed_ids
    ]
    generated = int(cp.get("generated", 0))
    skipped = len(before) - generated  # traces that were there before this job started
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
    t0, retried = time.monotonic(), int(cp.get("retried", 0))
    for start in range(0, len(todo), spec.batch_size):
        chunk = todo[start : start + spec.batch_size]
        out = op({"question": [e["question"] or e["text"] for e in chunk]})
        rows = []
        for i, e in enumerate(chunk):
            retried += out["attempts"][i] > 1
            if out["error"][i] is not None:
                failures.append({"ext_id": e["ext_id"], "reason": out["error"][i]})
                ctx.log.info("example %s failed: %s", e["ext_id"], out["error"][i])
                continue
            ex = catalog.example(conn, e["id"]) or {}
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
        generated += len(rows)
        ctx.commit_chunk(
            lambda c, rows=rows: traces.insert_traces(c, spec.benchmark_id, rows),
            advance=len(chunk),
            checkpoint={
                "stage": "generate",
                "generated": generated,
                "retried": retried,
                "failures": failures,
            },
        )
    ctx.log.info(
        "generated %d traces, %d failed, %d skipped in %.1f s",
        generated,
        len(failures),
        skipped,
        time.monotonic() - t0,
    )
    return _result(
        failures,
        skipped,
        benchmark_id=spec.benchmark_id,
        model_sha256=sha,
        generated=generated,
        retried=retried,
    )


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
    cp = ctx.checkpoint or {}
    after = int(cp.get("after_id", 0))
    failures: list[dict[str, str]] = list(cp.get("failures", []))
    forced = int(cp.get("teacher_forced", 0))
    had = 0 if spec.overwrite else sum(r["letter_probs"] is not None for r in rows)
    skipped = int(cp.get("skipped", had))  # traces that had probabilities before this job
    todo = [r for r in rows if r["id"] > after and (spec.overwrite or r["letter_probs"] is None)]
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
        out = op(
            {
                "question": [r["question"] for r in chunk],
                "reasoning": [r["reasoning"] for r in chunk],
            }
        )
        writes = []
        for r, probs, err in zip(chunk, out["letter_probs"], out["error"], strict=True):
            if err is not None:
                failures.append({"ext_id": r["ext_id"], "reason": err})
                ctx.log.info("trace %s failed: %s", r["ext_id"], err)
            else:
                writes.append((r["id"], np.asarray(probs, dtype=np.float32).tobytes()))
        forced += len(writes)

        def write(c, writes=writes) -> None:
            for trace_id, blob in writes:
                traces.set_letter_probs(c, trace_id, blob, source)

        ctx.commit_chunk(
            write,
            advance=len(chunk),
            checkpoint={
                "stage": "teacher-force",
                "after_id": chunk[-1]["id"],
                "teacher_forced": forced,
                "skipped": skipped,
                "failures": failures,
            },
        )
    ctx.log.info("teacher-forced %d traces, %d failed, %d skipped", forced, len(failures), skipped)
    return _result(
        failures,
        skipped,
        benchmark_id=spec.benchmark_id,
        model_sha256=sha,
        teacher_forced=forced,
        prob_source=source,
    )
