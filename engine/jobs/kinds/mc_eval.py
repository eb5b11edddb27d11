"""Multiple-choice evaluation of a proxy (METHODS 5): per item the log-likelihood of each
choice continuation given the question, then every metric of engine.analysis.mc (acc,
acc_norm, acc_bytes, acc_per_char, confidence) per benchmark, stored in the long evaluation
table with the item count and the BOS convention in the rows' attrs.

Context: MC_PROMPT with the example's question, encoded under the spec's BOS convention
(ProxyNLL.encode_context); each choice is the continuation " " + choice
(engine.ops.proxy_nll.mc_continuation). Per item the store keeps the log-likelihoods, n_chars
(the characters of each continuation as scored, the delimiter counted: acc_per_char's lengths)
and the BOS convention; acc_norm and acc_bytes read the choices' own texts from the examples.
Gold: the example's meta "gold" index, else the position of its answer among the choices; an
example with neither is left out and counted.

Resumable: each chunk of items is committed to `mc_items` with the job's progress; a resumed
job skips the items this proxy already has under the same BOS convention (an item scored under
another one is scored again and replaced), then recomputes the benchmark's metrics from the
stored items (so the numbers never depend on where a worker was killed).
"""

from __future__ import annotations

import json
import time
from typing import Any

from engine.analysis.mc import METRICS, mc_metrics
from engine.errors import UsageError
from engine.jobs.context import JobContext
from engine.jobs.kinds.checkpoints import McEvalCheckpoint
from engine.jobs.specs import McEvalSpec
from engine.ops.proxy_nll import ProxyNLL, mc_continuation
from engine.rbridge.proxy_dir import check_model_dir, model_sha256
from engine.store import catalog, evals, proxies
from engine.units import abbreviate

MC_PROMPT = "Question: {x}\nAnswer:"
CHUNK_ITEMS = 64


def run_mc_eval(ctx: JobContext, spec: McEvalSpec) -> dict[str, Any]:
    conn = ctx.conn
    proxy = proxies.get_proxy(conn, spec.proxy_id)
    if proxy is None:
        raise UsageError(
            f"proxy {spec.proxy_id} no longer exists",
            fix="list the proxies with betr proxy list, then evaluate one of them",
        )
    plans = [
        _plan_benchmark(conn, proxy, bench_id, spec.limit, spec.bos)
        for bench_id in spec.benchmark_ids
    ]
    if proxy.get("sha256") and model_sha256(check_model_dir(proxy["path"])) != proxy["sha256"]:
        raise UsageError(
            f"the files of proxy '{proxy['name']}' at {proxy['path']} changed since it was "
            "registered",
            fix=f"register the new files as a new proxy: betr proxy add {proxy['path']} --name NEW",
        )
    total = sum(len(p["items"]) for p in plans)
    ctx.start_phase(total, "items", done=sum(len(p["items"]) - len(p["todo"]) for p in plans))
    op = load_proxy(ctx, spec, proxy, [p["name"] for p in plans], total)
    t0 = time.monotonic()
    scored_now = 0
    results: dict[str, Any] = {}
    for plan in plans:
        todo = plan["todo"]
        for start in range(0, len(todo), CHUNK_ITEMS):
            chunk = todo[start : start + CHUNK_ITEMS]
            rows = _score_items(op, chunk, ctx.job_id, spec.bos)
            ctx.commit_chunk(
                lambda c, rows=rows: evals.upsert_mc_items(c, proxy["id"], rows),
                advance=len(chunk),
                checkpoint=McEvalCheckpoint(benchmark=plan["id"], items=ctx.done + len(chunk)),
            )
            scored_now += len(chunk)
        results[plan["name"]] = _finish_benchmark(ctx, proxy, plan, spec.bos)
    return {
        "proxy_id": proxy["id"],
        "proxy": proxy["name"],
        "bos": spec.bos,
        "benchmarks": results,
        "items_scored_now": scored_now,
        "device": op.loaded.device,
        "dtype": op.loaded.dtype,
        "elapsed_s": round(time.monotonic() - t0, 3),
    }


def load_proxy(
    ctx: JobContext, spec: McEvalSpec, proxy: dict[str, Any], benchmarks: list[str], total: int
) -> ProxyNLL:
    """The proxy's model, loaded (a UsageError when --bos always asks for a BOS it lacks)."""
    op = ProxyNLL(proxy["path"], device=spec.device, batch_size=spec.batch_size)
    op.setup()
    if spec.bos == "always" and op.loaded.bos_id is None:
        raise UsageError(
            f"--bos always: proxy '{proxy['name']}' has no bos_token_id in its config.json",
            fix="evaluate with --bos auto or --bos never",
        )
    ctx.log.info(
        "multiple-choice evaluation of proxy %s on %s (%d items) on %s (%s), BOS %s",
        proxy["name"],
        ", ".join(benchmarks),
        total,
        op.loaded.device,
        op.loaded.dtype,
        spec.bos,
    )
    return op


def _plan_benchmark(
    conn, proxy: dict, bench_id: int, limit: int | None, bos: str
) -> dict[str, Any]:
    """The benchmark's multiple-choice items (first `limit`) and those still to score."""
    bench = next((b for b in catalog.list_benchmarks(conn) if b["id"] == bench_id), None)
    if bench is None:
        raise UsageError(
            f"benchmark {bench_id} no longer exists",
            fix="list the benchmarks with betr list benchmarks, then evaluate again",
        )
    items, no_gold = [], 0
    for ex in catalog.choice_examples(conn, bench_id):
        gold = _gold_index(ex)
        if gold is None:
            no_gold += 1
            continue
        items.append({**ex, "gold": gold})
    if not items:
        raise UsageError(
            f"benchmark '{bench['name']}' has no multiple-choice examples (choices with a gold "
            "answer)",
            fix="evaluate a benchmark imported with choices (e.g. --format mc, or a field map "
            "with choices=FIELD,gold=FIELD)",
        )
    if limit is not None:
        items = items[:limit]
    done = evals.mc_done_example_ids(conn, proxy["id"], bench_id, bos)
    return {
        "id": bench_id,
        "name": bench["name"],
        "category": bench["category"],
        "items": items,
        "todo": [it for it in items if it["id"] not in done],
        "no_gold": no_gold,
    }


def _gold_index(ex: dict[str, Any]) -> int | None:
    choices = ex["choices"]
    gold = (ex.get("meta") or {}).get("gold")
    if isinstance(gold, int) and not isinstance(gold, bool) and 0 <= gold < len(choices):
        return gold
    if ex.get("answer") in choices:
        return choices.index(ex["answer"])
    return None


def _score_items(op: ProxyNLL, chunk: list[dict[str, Any]], job_id: int, bos: str) -> list[tuple]:
    contexts = [MC_PROMPT.replace("{x}", it["question"]) for it in chunk]
    logliks = op.mc_logliks(contexts, [it["choices"] for it in chunk], bos=bos)
    rows = []
    for it, context, ll in zip(chunk, contexts, logliks, strict=True):
        n_chars = [len(mc_continuation(context, c)) for c in it["choices"]]
        rows.append(
            (it["id"], it["gold"], json.dumps([v for v, _ in ll]), json.dumps(n_chars), job_id, bos)
        )
    return rows


def _finish_benchmark(
    ctx: JobContext, proxy: dict, plan: dict[str, Any], bos: str
) -> dict[str, Any]:
    """Metrics over the evaluated items (from the store), written as eval_results rows that
    replace this proxy's earlier ones on the benchmark."""
    wanted = {it["id"] for it in plan["items"]}
    stored = [
        r
        for r in evals.mc_item_rows(ctx.conn, proxy["id"], plan["id"])
        if r["example_id"] in wanted and r["bos"] == bos
    ]
    res = mc_metrics(
        [r["logliks"] for r in stored],
        [r["gold"] for r in stored],
        [[str(c) for c in r["choices"]] for r in stored],
        [r["n_chars"] for r in stored],
    )
    base = {
        "run": proxy["dataset"] or proxy["name"],
        "size": abbreviate(proxy["params"]) if proxy.get("params") else None,
        "params": proxy.get("params"),
        "tokens": proxy.get("tokens"),
        "step": proxy.get("step"),
        "stage": "PT",
        "benchmark": plan["name"],
        "category": plan["category"],
        "source": f"proxy:{proxy['id']}",
        "proxy_id": proxy["id"],
        "job_id": ctx.job_id,
        "attrs": {"n_items": res.n_items, "bos": bos},
    }
    rows = [{**base, "metric": m, "value": v} for m, v in res.metrics().items() if v is not None]

    def write(conn) -> None:
        evals.delete_eval_results(
            conn, proxy_id=proxy["id"], benchmark=plan["name"], metrics=METRICS
        )
        evals.insert_eval_results(conn, rows)

    ctx.commit_chunk(
        write, advance=0, checkpoint=McEvalCheckpoint(benchmark=plan["id"], stage="done")
    )
    ctx.log.info(
        "%s over %d items: %s",
        plan["name"],
        res.n_items,
        ", ".join(f"{m} {v:.4f}" for m, v in res.metrics().items() if v is not None),
    )
    return {**res.metrics(), "n_items": res.n_items, "no_gold": plan["no_gold"]}
