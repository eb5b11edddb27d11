"""What the demo experiment evaluates on, and its verdict (engine.analysis.experiment_verdict).

Two sets of benchmarks:
- target: the BETR run's target benchmarks, on the examples the run held out (its config's
  `holdout`: never embedded, never ranked against); a run without a held-out split has none;
- control: benchmarks the run did not target (the demo's `core` when it targets `noncore`).

Per benchmark of either set (and the trace benchmark), up to `n_traces` of those examples
(all when fewer; else a seeded draw, engine.betr.targets.draw_balanced) become gold traces:
question, gold answer as the reasoning, one mask span over the whole answer. Every proxy
checkpoint is scored on them by the rBridge scoring job, so each trace's share of the
release's masked-span bpb (mask NLL, mask bytes) is stored per item; the multiple-choice items
of a target benchmark count only when held out.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from engine.analysis.bootstrap import ItemValues
from engine.analysis.experiment_verdict import ExperimentVerdict, build_verdict
from engine.analysis.mc import item_row
from engine.betr.targets import draw_balanced
from engine.errors import UsageError
from engine.jobs.specs import DemoExperimentSpec
from engine.rbridge.scoring import trace_share
from engine.rbridge.weights import ScoreConfig
from engine.store import catalog, evals, traces
from engine.store import rbridge as store_rb
from engine.store import runs as store_runs
from engine.store.db import transaction

GOLD_FORMAT = "demo-gold"


def gold_ext_id(example_ext_id: str) -> str:
    return f"gold-{example_ext_id}"


@dataclass(frozen=True)
class EvalPlan:
    """The benchmarks of each set, the example ids evaluated per benchmark (for gold traces),
    the held-out example ids per target benchmark, the run's split as recorded, notes."""

    sets: dict[str, list[str]]
    examples: dict[str, list[int]]  # benchmark -> example ids made gold traces
    held_out: dict[str, set[int]]  # target benchmark -> its held-out example ids
    holdout: dict[str, Any] | None
    notes: list[str]

    def set_of(self, bench: str) -> str | None:
        return next((s for s, names in self.sets.items() if bench in names), None)

    def trace_benchmarks(self, trace_benchmark: str) -> list[str]:
        """The benchmarks scored on held-out gold text, other than the trace benchmark."""
        return [b for b in self.examples if b != trace_benchmark]


def eval_plan(conn: sqlite3.Connection, spec: DemoExperimentSpec) -> EvalPlan:
    """The sets and the examples of each benchmark to evaluate on (module doc)."""
    cfg = store_runs.get_run(conn, spec.run_id)["config"]
    targets = sorted(cfg.get("benchmarks") or {})
    overlap = sorted(set(spec.control_benchmarks) & set(targets))
    if overlap:
        raise UsageError(
            f"control benchmark(s) {', '.join(overlap)} are targets of run {spec.run_id}",
            fix="choose control benchmarks the run does not target",
        )
    holdout = cfg.get("holdout")
    notes: list[str] = []
    held: dict[str, set[int]] = {}
    if holdout:
        held = {b: {int(i) for i in ids} for b, ids in holdout["held_out"].items()}
    else:
        notes.append(
            f"run {spec.run_id} holds no target examples out (planned without a held-out "
            "split): no held-out target text to evaluate on"
        )
    all_ids = catalog.example_ids(conn, [*targets, *spec.control_benchmarks])
    missing = [b for b in spec.control_benchmarks if not all_ids.get(b)]
    if missing:
        notes.append(f"control benchmark(s) without examples here, left out: {', '.join(missing)}")
    controls = [b for b in spec.control_benchmarks if all_ids.get(b)]
    pools: dict[str, list[int]] = {}
    for b in targets:
        if b in held:
            pools[b] = [i for i in all_ids[b] if i in held[b]]
    for b in controls:
        pools[b] = all_ids[b]
    if spec.trace_benchmark not in pools:  # neither set: its first examples, as before
        tb = catalog.example_ids(conn, [spec.trace_benchmark]).get(spec.trace_benchmark) or []
        pools[spec.trace_benchmark] = tb[: spec.n_traces]
    examples = {}
    for b, ids in pools.items():
        if len(ids) <= spec.n_traces:
            examples[b] = list(ids)
        else:
            examples[b] = draw_balanced({b: ids}, spec.n_traces, spec.seed)[b]
    summary = None
    if holdout:
        summary = {
            "fraction": holdout["fraction"],
            "seed": holdout["seed"],
            "examples": {b: len(ids) for b, ids in sorted(held.items())},
        }
    return EvalPlan(
        {"target": [b for b in targets if b in held], "control": controls},
        examples,
        held,
        summary,
        notes,
    )


def import_gold_traces(conn: sqlite3.Connection, bench: sqlite3.Row, example_ids: list[int]) -> int:
    """These examples of the benchmark as gold traces (question, the gold answer as the
    reasoning, one mask span over all of it; no letter probabilities yet), those it lacks
    (by ext_id). Returns how many were added."""
    have = traces.existing_ext_ids(conn, bench["id"])
    rows = []
    for example_id in example_ids:
        ex = catalog.example(conn, example_id)
        if ex is None or gold_ext_id(ex["ext_id"]) in have:
            continue
        answer = str(ex["answer"]).strip()
        if not answer:
            continue
        rows.append(
            {
                "ext_id": gold_ext_id(ex["ext_id"]),
                "question": ex["question"],
                "reasoning": answer,
                "gold": answer.rsplit("####", 1)[-1].strip() if "####" in answer else answer,
                "spans": [[0, len(answer)]],
                "format": GOLD_FORMAT,
                "source": f"benchmark {bench['name']} example {ex['ext_id']}",
            }
        )
    if not rows and not have:
        raise UsageError(f"benchmark '{bench['name']}' has no answers to use as gold traces")
    with transaction(conn):
        traces.insert_traces(conn, bench["id"], rows)
    return len(rows)


def _latest_score(conn: sqlite3.Connection, proxy_id: int, bench_id: int) -> int | None:
    key = ScoreConfig().hash()
    rows = [
        s
        for s in store_rb.list_scores(conn, benchmark_id=bench_id, proxy_id=proxy_id)
        if s["state"] == "done" and s["config_hash"].startswith(key)
    ]
    if not rows:
        return None
    return int(max(rows, key=lambda s: (s["finished_at"] or 0, s["id"]))["id"])


def trace_values(
    conn: sqlite3.Connection, proxy_id: int, bench: sqlite3.Row, wanted: set[str], metric: str
) -> ItemValues:
    """The proxy's per-trace shares of `metric` on the wanted gold traces."""
    score_id = _latest_score(conn, proxy_id, int(bench["id"]))
    ids, values, weights = [], [], []
    if score_id is not None:
        for r in store_rb.trace_scores(conn, score_id):
            share = trace_share(r, metric) if r["ext_id"] in wanted else None
            if share is None:
                continue
            ids.append(str(r["ext_id"]))
            values.append(share[0])
            weights.append(share[1])
    return ItemValues.of(values, ids, weights if metric == "bpb" else None)


def mc_values(
    conn: sqlite3.Connection, proxy_id: int, bench_id: int, wanted: set[str] | None
) -> ItemValues:
    """The proxy's items right (1) or wrong (0) under acc (only the wanted ext_ids, if any)."""
    ids, values = [], []
    for r in evals.mc_item_rows(conn, proxy_id, bench_id):
        if wanted is not None and str(r["ext_id"]) not in wanted:
            continue
        choices = [str(c) for c in r["choices"]] if r["choices"] is not None else None
        correct = item_row(r["logliks"], int(r["gold"]), choices, r["n_chars"])["correct"]
        if "acc" in correct:
            ids.append(str(r["ext_id"]))
            values.append(1.0 if correct["acc"] else 0.0)
    return ItemValues.of(values, ids)


def experiment_verdict(
    conn: sqlite3.Connection,
    spec: DemoExperimentSpec,
    plan: EvalPlan,
    finals: dict[tuple[str, int], int],
    **settings: Any,
) -> ExperimentVerdict:
    """The verdict over the final checkpoint of each (selection, size) (`finals`: its proxy
    id): bpb on each set's gold traces, rBridge on the trace benchmark's, acc on the
    multiple-choice benchmarks of each set (a target's held-out items only)."""
    benches = {b["name"]: b for b in catalog.benchmarks_named(conn, list(plan.examples))}
    ext = {b: _ext_ids(conn, ids) for b, ids in plan.examples.items()}
    items: dict[tuple[str, int, str, str], dict[str, ItemValues]] = {}
    for (sel, size), proxy_id in finals.items():
        for bench, ext_ids in ext.items():
            set_name = plan.set_of(bench)
            if set_name is None:
                continue
            wanted = {gold_ext_id(e) for e in ext_ids}
            metrics = ["bpb", "rbridge"] if bench == spec.trace_benchmark else ["bpb"]
            for metric in metrics:
                v = trace_values(conn, proxy_id, benches[bench], wanted, metric)
                items.setdefault((sel, size, set_name, metric), {})[bench] = v
        for bench in spec.mc_benchmarks:
            set_name = plan.set_of(bench)
            row = catalog.benchmark_by_name(conn, bench)
            if set_name is None or row is None:
                continue
            wanted = None
            if set_name == "target":
                wanted = set(_ext_ids(conn, sorted(plan.held_out.get(bench, set()))))
            v = mc_values(conn, proxy_id, int(row["id"]), wanted)
            items.setdefault((sel, size, set_name, "acc"), {})[bench] = v
    notes = list(plan.notes)
    outside = [b for b in [spec.trace_benchmark, *spec.mc_benchmarks] if plan.set_of(b) is None]
    if outside:
        notes.append(
            f"in neither set (not targets of the run, not controls), left out of the verdict: "
            f"{', '.join(dict.fromkeys(outside))}"
        )
    return build_verdict(
        items, keep=spec.keep, sets=plan.sets, holdout=plan.holdout, notes=notes, **settings
    )


def _ext_ids(conn: sqlite3.Connection, example_ids: list[int]) -> list[str]:
    out = []
    for i in example_ids:
        ex = catalog.example(conn, i)
        if ex is not None:
            out.append(str(ex["ext_id"]))
    return out
