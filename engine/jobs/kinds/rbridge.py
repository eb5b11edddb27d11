"""The rBridge scoring job: one proxy on one benchmark's traces (METHODS 2).

Weights need only the proxy's tokenizer, so every trace is tokenized and weighted first (the
`benchmark` MinMax scope needs the range over all of them); the NLL forward passes then run in
chunks of traces, each chunk's per-trace rows committed with the job's progress. A killed job
resumes after the last committed trace; the score row turns 'done' only in the transaction
that writes the benchmark's aggregates (and its rows in the long evaluation table). The row
names its job before anything else happens, so a job that fails leaves a row that says so
(engine.api.rbridge.score_state); a rescore fills a row beside the finished one and swaps in
at that last transaction (engine.store.rbridge).

A `mask` trace is also scored the rBridge release's way (engine.rbridge.scoring.mask_sums):
question + reasoning tokenized together with no separator and no special tokens, every token
scored given all before it: after the tokenizer's own BOS when it adds one (the release scores
ids with the BOS but takes offsets without it, one token off: here offsets and ids agree),
else from the second token on (the first has nothing to condition on).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine.errors import UsageError
from engine.jobs.context import JobContext
from engine.jobs.kinds.checkpoints import RbridgeScoreCheckpoint
from engine.jobs.specs import RbridgeScoreSpec
from engine.ops.proxy_nll import ProxyNLL
from engine.rbridge.proxy_dir import check_model_dir, model_sha256
from engine.rbridge.scoring import (
    TraceWeights,
    aggregate,
    benchmark_range,
    mask_sums,
    score_trace,
)
from engine.rbridge.scoring import trace_weights as make_weights
from engine.rbridge.tokenrows import pack_token_rows
from engine.store import evals, proxies, traces
from engine.store import rbridge as store_rb
from engine.units import abbreviate

CHUNK_TRACES = 32


def run_score(ctx: JobContext, spec: RbridgeScoreSpec) -> dict[str, Any]:
    conn = ctx.conn
    score = store_rb.get_score(conn, spec.score_id)
    if score is None:
        raise UsageError(
            f"rBridge score {spec.score_id} no longer exists (its proxy or benchmark was deleted)",
            fix="start it again: betr rbridge score --proxy P --benchmark B",
        )
    if score["state"] == "done":
        return {"score_id": spec.score_id, "skipped": "already scored", **score["metrics"]}
    if score["job_id"] != ctx.job_id:  # first: any failure below shows on the score row
        ctx.commit_chunk(
            lambda c: store_rb.set_score_job(c, spec.score_id, ctx.job_id),
            advance=0,
            checkpoint=ctx.restore(RbridgeScoreCheckpoint),
        )
    proxy = unchanged_proxy(conn, spec, score)
    op = ProxyNLL(proxy["path"], device=spec.device, batch_size=spec.batch_size)
    op.setup()
    t0 = time.monotonic()
    todo, scope_range = traces_to_score(ctx, op, spec, score["benchmark"], proxy["name"])
    t_tok = time.monotonic() - t0
    n_tokens = 0
    for start in range(0, len(todo), CHUNK_TRACES):
        chunk = todo[start : start + CHUNK_TRACES]
        out = score_chunk(op, chunk, scope_range)
        n_tokens += sum(r["n_tokens"] for r in out)
        ctx.commit_chunk(
            lambda c, out=out: store_rb.write_trace_scores(c, spec.score_id, out),
            advance=len(chunk),
            checkpoint=RbridgeScoreCheckpoint("nll", scored=ctx.done + len(chunk)),
        )
    timings = {"tokenize_s": round(t_tok, 3), "total_s": round(time.monotonic() - t0, 3)}
    metrics = finish_score(ctx, spec, score, proxy, op, timings, n_tokens)
    return {"score_id": spec.score_id, **{k: metrics[k] for k in _RESULT_KEYS}}


def finish_score(
    ctx: JobContext,
    spec: RbridgeScoreSpec,
    score: dict[str, Any],
    proxy: dict[str, Any],
    op: ProxyNLL,
    timings: dict[str, float],
    n_tokens: int,
) -> dict[str, Any]:
    """The benchmark's aggregates over every scored trace, committed with the score row turned
    done (and its rows in the long evaluation table); returns them."""
    metrics = aggregate(store_rb.trace_scores(ctx.conn, spec.score_id))
    metrics.update(
        {
            "minmax": spec.minmax,
            "device": op.loaded.device,
            "dtype": op.loaded.dtype,
            "timings": timings,
            "tokens_scored_now": n_tokens,
        }
    )
    ctx.commit_chunk(
        lambda c: _finish(c, spec, score, proxy, metrics),
        advance=0,
        checkpoint=RbridgeScoreCheckpoint("done"),
    )
    ctx.log.info(
        "rBridge %s on %s: %s (R-phi %s, gold %s) over %d traces",
        proxy["name"],
        score["benchmark"],
        metrics["rbridge"],
        metrics["nll_rphi"],
        metrics["nll_gold"],
        metrics["n_traces"],
    )
    return metrics


def traces_to_score(
    ctx: JobContext, op: ProxyNLL, spec: RbridgeScoreSpec, benchmark: str, proxy: str
) -> tuple[list[dict[str, Any]], tuple[float, float] | None]:
    """Every trace prepared (its weights need only the tokenizer, and the `benchmark` MinMax
    scope needs the range over all of them): those not scored yet, and that range."""
    rows = traces.trace_rows(ctx.conn, spec.benchmark_id)
    ctx.log.info(
        "scoring %d traces of %s with proxy %s on %s (%s), MinMax per %s",
        len(rows),
        benchmark,
        proxy,
        op.loaded.device,
        op.loaded.dtype,
        spec.minmax,
    )
    prepared = [_prepare(op, spec, row) for row in rows]
    scope_range = None
    if spec.minmax == "benchmark":
        scope_range = benchmark_range([p["weights"] for p in prepared])
    done_ids = store_rb.scored_trace_ids(ctx.conn, spec.score_id)
    todo = [p for p in prepared if p["row"]["id"] not in done_ids]
    ctx.start_phase(len(rows), "traces", done=len(rows) - len(todo))
    return todo, scope_range


def unchanged_proxy(conn, spec: RbridgeScoreSpec, score: dict[str, Any]) -> dict[str, Any]:
    """The score's proxy, when it still exists and neither its files nor the benchmark's
    traces changed since the score was planned (a UsageError saying which did otherwise)."""
    proxy = proxies.get_proxy(conn, spec.proxy_id)
    if proxy is None:
        raise UsageError(f"proxy {spec.proxy_id} was deleted")
    th, _count = traces.traces_hash(conn, spec.benchmark_id)
    if th != score["traces_hash"]:
        raise UsageError(
            f"the traces of benchmark '{score['benchmark']}' changed since this score was planned",
            fix=f"score again: betr rbridge score --proxy {proxy['name']} "
            f"--benchmark {score['benchmark']}",
        )
    sha = model_sha256(check_model_dir(proxy["path"]))
    if sha != score["proxy_sha256"]:
        raise UsageError(
            f"the files of proxy '{proxy['name']}' at {proxy['path']} changed since it was "
            "registered",
            fix=f"register the new files as a new proxy: betr proxy add {proxy['path']} --name NEW",
        )
    return proxy


def score_chunk(
    op: ProxyNLL, chunk: list[dict[str, Any]], scope_range: tuple[float, float] | None
) -> list[dict[str, Any]]:
    """The per-trace rows of a chunk of prepared traces: one forward pass over every trace's
    reasoning, gold answer and (mask traces) joint tokens."""
    golds = [p for p in chunk if p["gold_ids"]]
    masks = [p for p in chunk if p["mask"]]
    batch = {
        "context_ids": [p["prompt_ids"] for p in chunk]
        + [p["prompt_ids"] for p in golds]
        + [p["mask"]["context"] for p in masks],
        "target_ids": [p["r_ids"] for p in chunk]
        + [p["gold_ids"] for p in golds]
        + [p["mask"]["target"] for p in masks],
    }
    nll = op(batch)["nll"]
    gold_nll = iter(nll[len(chunk) : len(chunk) + len(golds)])
    mask_nll = iter(nll[len(chunk) + len(golds) :])
    out = []
    for p, r_nll in zip(chunk, nll[: len(chunk)], strict=True):
        res = score_trace(
            p["weights"],
            r_nll,
            reasoning=p["row"]["reasoning"],
            gold_nll=next(gold_nll) if p["gold_ids"] else None,
            scope_range=scope_range,
            spans=[tuple(s) for s in p["row"]["spans"]] if p["row"]["spans"] else None,
        )
        sums = _mask_sums(p, next(mask_nll)) if p["mask"] else None
        out.append(_trace_row(p, res, sums))
    return out


def _trace_row(p: dict[str, Any], res, sums) -> dict[str, Any]:
    """A trace's row of rbridge_trace_scores: its score, NLLs, packed per-token rows and, for a
    mask trace, the release's sums."""
    return {
        "trace_id": p["row"]["id"],
        "score": res.score,
        "nll_rphi": res.nll_rphi,
        "nll_gold": res.nll_gold,
        "bpb": res.bpb,
        "n_tokens": res.n_tokens,
        "flags": res.flags,
        "tokens": pack_token_rows(
            p["weights"].offsets[:, 0],
            p["weights"].offsets[:, 1],
            res.weight,
            res.weight_minmax,
            res.nll,
        ),
        "mask_nll": sums.nll if sums else None,
        "mask_bytes": sums.n_bytes if sums else None,
        "mask_words": sums.n_words if sums else None,
        "mask_tokens": sums.n_tokens if sums else None,
    }


_RESULT_KEYS = (
    "rbridge",
    "nll_rphi",
    "nll_gold",
    "bpb",
    "word_perplexity",
    "byte_perplexity",
    "bpb_prompted",
    "n_mask_traces",
    "n_traces",
    "n_scored",
    "flags",
)
# the benchmark's rows in the long evaluation table: metric name -> key of the aggregates
_EVAL_METRICS = {
    "nll_rphi": "nll_rphi",
    "nll_gold": "nll_gold",
    "bpb": "bpb",
    "word_perplexity": "word_perplexity",
    "byte_perplexity": "byte_perplexity",
    "bpb_prompted": "bpb_prompted",
}


def _mask_sums(p: dict[str, Any], target_nll: np.ndarray):
    """The release's sums of one mask trace from the NLL of its joint tokens."""
    m = p["mask"]
    nll = np.full(len(m["offsets"]), np.nan)
    nll[m["first"] :] = target_nll
    row = p["row"]
    return mask_sums(
        np.asarray(m["offsets"], dtype=np.int64).reshape(-1, 2),
        nll,
        question=row["question"],
        reasoning=row["reasoning"],
        spans=[tuple(s) for s in row["spans"]],
    )


def _prepare(op: ProxyNLL, spec: RbridgeScoreSpec, row: dict[str, Any]) -> dict[str, Any]:
    """Token ids with offsets and weights of one trace: R is tokenized alone, without special
    tokens, and exactly those ids are scored after the prompt's ids (which carry the BOS when
    the tokenizer adds one), so offsets and scored ids never disagree."""
    r_ids, offsets = op.encode(row["reasoning"], add_special_tokens=False)
    prompt_ids = op.encode_context(spec.prompt.replace("{x}", row["question"]))
    gold = row.get("gold")
    gold_ids = op.encode(gold, add_special_tokens=False)[0] if gold else []
    probs = (
        np.frombuffer(row["letter_probs"], dtype=np.float32).astype(np.float64)
        if row["letter_probs"] is not None
        else None
    )
    weights: TraceWeights = make_weights(probs, offsets)
    return {
        "row": row,
        "r_ids": list(r_ids),
        "prompt_ids": list(prompt_ids),
        "gold_ids": list(gold_ids),
        "weights": weights,
        "mask": _prepare_mask(op, row) if row["spans"] else None,
    }


def _prepare_mask(op: ProxyNLL, row: dict[str, Any]) -> dict[str, Any]:
    """The release's tokens of a mask trace: question + reasoning encoded together without
    special tokens (offsets into that text); scored after the tokenizer's leading special
    tokens (its BOS) when it adds any, else from the second token on."""
    text = row["question"] + row["reasoning"]
    ids, offsets = op.encode(text, add_special_tokens=False)
    lead = op.leading_special_ids(text)
    first = 0 if lead else 1
    return {"offsets": offsets, "context": lead or ids[:1], "target": ids[first:], "first": first}


def _finish(conn, spec, score, proxy, metrics) -> None:
    store_rb.finish_score(conn, spec.score_id, metrics)
    name = score["benchmark"]
    evals.delete_eval_results(
        conn,
        proxy_id=proxy["id"],
        benchmark=name,
        metrics=[f"rbridge_{spec.minmax}", *_EVAL_METRICS],
    )
    base = {
        "run": proxy["dataset"] or proxy["name"],
        "size": abbreviate(proxy["params"]) if proxy["params"] else None,
        "params": proxy["params"],
        "tokens": proxy["tokens"],
        "step": proxy["step"],
        "stage": "PT",
        "benchmark": name,
        "source": f"proxy:{proxy['id']}",
        "proxy_id": proxy["id"],
    }
    evals.insert_eval_results(
        conn,
        [
            {**base, "metric": metric, "value": metrics[key]}
            for metric, key in ((f"rbridge_{spec.minmax}", "rbridge"), *_EVAL_METRICS.items())
            if metrics[key] is not None
        ],
    )
