"""rBridge use cases: import traces, plan (or reuse) a score of a proxy on a benchmark, and read
the results: a benchmark's numbers, a trace's per-token rows, a proxy curve.

A score is cached by (proxy sha256, the benchmark's traces fingerprint, the weighting config):
asking again returns the finished row instead of recomputing it.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from engine.api.proxies import ProxyInfo, resolve_proxy
from engine.api.records import Record
from engine.errors import InputError, NotFoundError, UsageError
from engine.jobs.rbridge_plan import plan_score_row
from engine.jobs.specs import GenerateSpec, RbridgeScoreSpec, TeacherForceSpec
from engine.jobs.table import get_job, refuse_if_in_use
from engine.rbridge.formats import TRACE_FORMATS as TRACE_FORMATS  # registries, for the faces
from engine.rbridge.tokenrows import unpack_token_rows
from engine.rbridge.weights import DEFAULT_PROMPT, LN2, ScoreConfig
from engine.rbridge.weights import MINMAX_SCOPES as MINMAX_SCOPES
from engine.store import catalog, proxies, traces
from engine.store import rbridge as store_rb
from engine.store.db import transaction
from engine.workspace import Workspace

# bits per byte: `bpb`, `byte_perplexity`, `word_perplexity` are the rBridge release's
# masked-span numbers (mask traces only, summed over the benchmark); `bpb_prompted` is betr's
# own (per trace after betr's prompt, averaged over traces); n_mask_traces counts the former
BPB_KEYS = ("bpb", "word_perplexity", "byte_perplexity", "bpb_prompted", "n_mask_traces")
SCORE_KEYS = ("rbridge", "nll_rphi", "nll_gold", "bpb", "bpb_prompted")  # per score row


def trace_format_names(separator: str = "|") -> str:
    """The registered trace formats' names, e.g. for a hint: openai|rbridge|mask|plain."""
    return separator.join(TRACE_FORMATS)


def resolve_benchmark(conn: sqlite3.Connection, name: str) -> sqlite3.Row:
    """An imported benchmark by name or by another spelling of it (`arc_easy` = `arc-easy`)."""
    from engine.names import resolve

    row = catalog.benchmark_by_name(conn, name)
    if row is not None:
        return row
    names = sorted(catalog.benchmark_ids(conn))
    if not names:
        raise NotFoundError(
            f"unknown benchmark '{name}'",
            fix="import it first: betr import bench PATH --name NAME; traces attach to an "
            "imported benchmark",
        )
    found = catalog.benchmark_by_name(
        conn, resolve(name, names, "benchmark", listing="betr list benchmarks")
    )
    assert found is not None  # resolve() returned a stored name
    return found


# -- import -----------------------------------------------------------------------------------
def parse_field_map(spec: str | None) -> dict[str, str] | None:
    """ "id=custom_id,content=text" -> {"id": "custom_id", "content": "text"}."""
    if not spec:
        return None
    out = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(
                f"bad --field-map entry '{part}'", fix="use NAME=FIELD pairs: id=custom_id,..."
            )
        out[key.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class TracesImported(Record):
    benchmark: str
    format: str  # a TRACE_FORMATS name
    imported: int
    with_probs: int  # traces with the frontier's letter probabilities
    gold_from_benchmark: int  # traces whose gold answer came from the benchmark's examples
    replaced: int  # traces replaced (--replace)
    skipped: int  # bad records skipped (--skip-bad)
    skipped_examples: list[str]  # the first 20 of them


def import_traces(
    workspace: Workspace,
    paths: Sequence[str],
    benchmark: str,
    *,
    fmt: str,
    field_map: str | None = None,
    skip_bad: bool = False,
    replace: bool = False,
) -> TracesImported:
    """Traces into `benchmark`, in one transaction: a bad record stops the import and changes
    nothing (unless skip_bad, which reports what it skipped)."""
    from engine.rbridge.formats import read_traces, trace_format

    trace_format(fmt)  # a known one
    if not paths:
        raise UsageError("no input files given", fix="betr rbridge import PATH... --benchmark B")
    abs_paths = [os.path.abspath(os.path.expanduser(p)) for p in paths]
    for p in abs_paths:
        if not os.path.exists(p):
            raise InputError("no such file or directory", file=p, fix="check the path")
    with closing(workspace.connect()) as conn:
        bench = resolve_benchmark(conn, benchmark)
        refuse_if_in_use(conn, "benchmark", benchmark, benchmark)
        records, skipped = read_traces(
            abs_paths, fmt, field_map=parse_field_map(field_map), skip_bad=skip_bad
        )
        examples = _examples_by_key(conn, benchmark)
        rows, gold_from_bench = [], 0
        seen: set[str] = set()
        for rec in records:
            if rec.benchmark and rec.benchmark != benchmark:
                raise InputError(
                    f"trace '{rec.ext_id}' is for benchmark '{rec.benchmark}', not '{benchmark}'",
                    file=rec.source,
                    field="benchmark",
                    fix=f"import it with --benchmark {rec.benchmark}, or fix the field",
                )
            seen.add(rec.ext_id)  # (read_traces reports an id seen twice)
            gold = rec.gold
            if gold is None:
                gold = examples.get(("id", rec.ext_id)) or examples.get(("q", rec.question.strip()))
                gold_from_bench += gold is not None
            probs = rec.letter_probs
            if probs is not None and len(probs) != len(rec.reasoning):
                raise InputError(
                    f"{len(probs)} letter probabilities for {len(rec.reasoning)} characters",
                    file=rec.source,
                )
            rows.append(
                {
                    "ext_id": rec.ext_id,
                    "question": rec.question,
                    "reasoning": rec.reasoning,
                    "gold": gold,
                    "final_answer": rec.final_answer,
                    "letter_probs": np.asarray(probs, dtype=np.float32).tobytes()
                    if probs is not None
                    else None,
                    "prob_source": "frontier" if probs is not None else "none",
                    "spans": [list(s) for s in rec.spans] if rec.spans else None,
                    "format": fmt,
                    "source": rec.source,
                }
            )
        with transaction(conn):
            replaced = 0
            if replace:
                replaced = traces.delete_traces(conn, bench["id"])
            else:
                clash = traces.existing_ext_ids(conn, bench["id"]) & seen
                if clash:
                    first = sorted(clash)[0]
                    raise UsageError(
                        f"benchmark '{benchmark}' already has trace '{first}' "
                        f"({len(clash)} of these ids are already imported)",
                        fix="import with --replace to replace the benchmark's traces (their "
                        "scores are dropped), or give the traces other ids",
                    )
            traces.insert_traces(conn, bench["id"], rows)
    return TracesImported(
        benchmark=benchmark,
        format=fmt,
        imported=len(rows),
        with_probs=sum(r["letter_probs"] is not None for r in rows),
        gold_from_benchmark=gold_from_bench,
        replaced=replaced,
        skipped=len(skipped),
        skipped_examples=list(skipped[:20]),
    )


def _examples_by_key(conn: sqlite3.Connection, benchmark: str) -> dict[tuple[str, str], str]:
    """Gold answers of the benchmark's examples, by ext id and by question text."""
    out: dict[tuple[str, str], str] = {}
    for r in catalog.benchmark_examples(conn, [benchmark]):
        ex = catalog.example(conn, r["id"])
        if ex is None:
            continue
        out.setdefault(("id", str(ex["ext_id"])), ex["answer"])
        out.setdefault(("q", str(ex["question"]).strip()), ex["answer"])
    return out


@dataclass(frozen=True)
class TraceCount(Record):
    """A benchmark with traces: how many, how many carry letter probabilities."""

    benchmark_id: int
    benchmark: str
    traces: int
    with_probs: int
    formats: str  # comma-separated TRACE_FORMATS names


def list_traces(workspace: Workspace) -> list[TraceCount]:
    with closing(workspace.connect(readonly=True)) as conn:
        return [TraceCount(**r) for r in traces.trace_counts(conn)]


# -- scoring ----------------------------------------------------------------------------------
@dataclass
class ScorePlan:
    score_id: int
    cached: bool
    spec: RbridgeScoreSpec | None  # None when cached
    proxy: str
    benchmark: str
    notes: list[str] = field(default_factory=list)


def plan_score(
    workspace: Workspace,
    proxy: str,
    benchmark: str,
    *,
    minmax: str = "trace",
    prompt: str | None = None,
    batch_size: int = 8,
    device: str = "auto",
    rescore: bool = False,
) -> ScorePlan:
    """The score of `proxy` on `benchmark`: a finished one with the same model files, traces
    and config (cached), else a pending row and the job spec that fills it."""
    cfg = ScoreConfig(minmax, DEFAULT_PROMPT if prompt is None else prompt)  # checks both
    with closing(workspace.connect()) as conn:
        p = resolve_proxy(conn, proxy)
        bench = resolve_benchmark(conn, benchmark)
        # every option checked before the score row is written: a refused command writes nothing
        spec = RbridgeScoreSpec(
            score_id=0,
            proxy_id=p.id,
            benchmark_id=int(bench["id"]),
            minmax=minmax,
            prompt=cfg.prompt,
            batch_size=batch_size,
            device=device,
        )
        score_id, cached = plan_score_row(conn, p.to_json(), bench, cfg, rescore=rescore)
    if cached:
        return ScorePlan(score_id, True, None, p.name, benchmark, ["cached result"])
    notes = (
        ["rescoring from scratch beside the finished score, which stays until this one is done"]
        if rescore
        else []
    )
    return ScorePlan(score_id, False, replace(spec, score_id=score_id), p.name, benchmark, notes)


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


@dataclass(frozen=True)
class RbridgeNumbers:
    """A proxy's rBridge numbers on a benchmark (its latest finished score, or the one with a
    given MinMax scope): rBridge, R-phi and gold NLL (nats/token), the masked-span bpb of the
    rBridge release with its perplexities (None without mask traces), betr's prompted bpb,
    the traces, the flags {flag: n traces}; `trace`: one trace's score and per-token rows
    when asked for (trace_detail)."""

    proxy: str
    benchmark: str
    score_id: int
    minmax: str
    rbridge: float | None
    nll_rphi: float | None
    nll_gold: float | None
    bpb: float | None
    word_perplexity: float | None
    byte_perplexity: float | None
    bpb_prompted: float | None
    n_mask_traces: int | None
    n_traces: int | None
    n_scored: int | None
    flags: dict[str, int]
    trace: TraceDetail | None = None  # the trace asked for, with its tokens

    def to_json(self) -> dict[str, Any]:
        """The shape of `betr rbridge show --json` (`trace` only when one was asked for)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.trace is None:
            del out["trace"]
        else:
            out["trace"] = self.trace.to_json()
        return out


def show(
    workspace: Workspace,
    proxy: str,
    benchmark: str,
    *,
    trace: str | None = None,
    minmax: str | None = None,
) -> RbridgeNumbers:
    """A benchmark's rBridge numbers for a proxy (the latest finished score, or the one with
    `minmax`), and with `trace` that trace's score and per-token rows."""
    with closing(workspace.connect(readonly=True)) as conn:
        p = resolve_proxy(conn, proxy)
        bench = resolve_benchmark(conn, benchmark)
        score = _done_score(conn, p, bench, minmax)
        m = score["metrics"]
        return RbridgeNumbers(
            proxy=p.name,
            benchmark=benchmark,
            score_id=score["id"],
            minmax=score["config"]["minmax"],
            rbridge=m.get("rbridge"),
            nll_rphi=m.get("nll_rphi"),
            nll_gold=m.get("nll_gold"),
            **{k: m.get(k) for k in BPB_KEYS},
            n_traces=m.get("n_traces"),
            n_scored=m.get("n_scored"),
            flags=m.get("flags", {}),
            trace=None if trace is None else trace_detail(conn, score["id"], bench["id"], trace),
        )


def _done_score(
    conn: sqlite3.Connection, p: ProxyInfo, bench: sqlite3.Row, minmax: str | None
) -> dict[str, Any]:
    rows = [
        s
        for s in store_rb.list_scores(conn, benchmark_id=bench["id"], proxy_id=p.id)
        if s["state"] == "done" and (minmax is None or s["config"]["minmax"] == minmax)
    ]
    if not rows:
        raise NotFoundError(
            f"proxy '{p.name}' has no finished rBridge score on '{bench['name']}'"
            + (f" with --minmax {minmax}" if minmax else ""),
            fix=f"score it: betr rbridge score --proxy {p.name} --benchmark {bench['name']}",
        )
    return max(rows, key=lambda s: (s["finished_at"] or 0, s["id"]))


@dataclass(frozen=True)
class TokenRow:
    """One token of a trace: its text and character span, weight (raw and min-max scaled) and
    the proxy's NLL of it (None where not finite)."""

    token: str
    start: int
    end: int
    weight: float | None
    weight_minmax: float | None
    nll: float | None


@dataclass(frozen=True)
class TraceDetail(Record):
    """One trace's score in a score: rBridge score, NLLs, bits per byte, and its tokens."""

    id: str  # the trace's own id
    score: float | None
    nll_rphi: float | None
    nll_gold: float | None
    bpb: float | None  # under the release's procedure (mask traces), else None
    bpb_prompted: float | None  # betr's prompted variant
    flags: list[str]  # no-probs, flat-weights, empty
    prob_source: str  # frontier, teacher:<sha256>, none
    reasoning: str
    tokens: list[TokenRow]


def trace_detail(
    conn: sqlite3.Connection, score_id: int, benchmark_id: int, ext_id: str
) -> TraceDetail:
    t = traces.trace_by_ext_id(conn, benchmark_id, ext_id)
    if t is None:
        raise NotFoundError(
            f"no trace '{ext_id}' in this benchmark",
            fix="use the trace's own id from the imported file (betr rbridge show lists them "
            "with --json)",
        )
    ts = store_rb.trace_score(conn, score_id, t["id"])
    if ts is None:
        raise NotFoundError(f"trace '{ext_id}' has no score in score {score_id}")
    return TraceDetail(
        id=ext_id,
        score=ts["score"],
        nll_rphi=ts["nll_rphi"],
        nll_gold=ts["nll_gold"],
        # one trace under the release's procedure (mask traces), and betr's prompted variant
        bpb=ts["mask_nll"] / (ts["mask_bytes"] * LN2) if ts["mask_bytes"] else None,
        bpb_prompted=ts["bpb"],
        flags=ts["flags"],
        prob_source=t["prob_source"],
        reasoning=t["reasoning"],
        tokens=token_rows(t["reasoning"], ts["tokens"]),
    )


def token_rows(reasoning: str, blob: bytes | None) -> list[TokenRow]:
    if blob is None:
        return []
    a = unpack_token_rows(blob)
    return [
        TokenRow(
            token=reasoning[int(s) : int(e)],
            start=int(s),
            end=int(e),
            weight=_num(w),
            weight_minmax=_num(u),
            nll=_num(n),
        )
        for s, e, w, u, n in zip(
            a["starts"], a["ends"], a["weight"], a["weight_minmax"], a["nll"], strict=True
        )
    ]


# -- what the rBridge screen reads ------------------------------------------------------------
def score_state(conn: sqlite3.Connection, score: dict[str, Any]) -> tuple[str, str | None]:
    """(state, error) of a score as the user sees it: "done"; or, while it is not, the state
    of the job that fills it (queued, running, failed, cancelled, interrupted; with its
    error), "pending" when no job has taken it yet; a rescore's row reads "rescore <state>"."""
    if score["state"] == "done":
        return "done", None
    state, error = "pending", None
    if score["job_id"] is not None:
        try:
            job = get_job(conn, score["job_id"])
        except NotFoundError:
            job = None
        if job is not None and job.state != "done":
            state, error = job.state, job.error
    if score["config_hash"].endswith(store_rb.RESCORE_MARK):
        state = f"rescore {state}"
    return state, error


@dataclass(frozen=True)
class ScoreRow(Record):
    """An rBridge score (finished, being computed, failed) with its proxy's curve position and
    its numbers (SCORE_KEYS; None until done)."""

    score_id: int
    proxy: str
    benchmark: str
    state: str  # score_state: done, pending, a job's state, "rescore <state>"
    error: str | None
    minmax: str | None
    dataset: str | None
    step: int | None
    tokens: int | None
    params: int | None
    rbridge: float | None
    nll_rphi: float | None
    nll_gold: float | None
    bpb: float | None
    bpb_prompted: float | None
    n_traces: int | None


def scores_table(workspace: Workspace, benchmark: str | None = None) -> list[ScoreRow]:
    """Every score (finished, being computed, failed) with its proxy's curve position."""
    with closing(workspace.connect(readonly=True)) as conn:
        bench_id = resolve_benchmark(conn, benchmark)["id"] if benchmark else None
        out = []
        for s in store_rb.list_scores(conn, benchmark_id=bench_id):
            p = proxies.get_proxy(conn, s["proxy_id"]) or {}
            state, error = score_state(conn, s)
            out.append(
                ScoreRow(
                    score_id=s["id"],
                    proxy=s["proxy"],
                    benchmark=s["benchmark"],
                    state=state,
                    error=error,
                    minmax=s["config"].get("minmax"),
                    dataset=p.get("dataset"),
                    step=p.get("step"),
                    tokens=p.get("tokens"),
                    params=p.get("params"),
                    **{k: s["metrics"].get(k) for k in SCORE_KEYS},
                    n_traces=s["metrics"].get("n_traces"),
                )
            )
    return out


@dataclass(frozen=True)
class TraceScore:
    """One trace's result in a score, with the trace's own id and text length: its score
    (weighted NLL), R-phi and gold NLL, prompted bpb, tokens, flags, the probabilities'
    source, and the masked span's NLL and sizes (None without a mask)."""

    trace_id: int
    ext_id: str
    score: float | None
    nll_rphi: float | None
    nll_gold: float | None
    bpb: float | None
    n_tokens: int | None
    flags: list[str]
    prob_source: str | None
    n_chars: int | None
    mask_nll: float | None
    mask_bytes: int | None
    mask_words: int | None
    mask_tokens: int | None

    def value(self, column: str) -> Any:
        """A column's value by its name (a table sorted by a column the user picked)."""
        if column not in TRACE_SCORE_COLUMNS:
            raise KeyError(column)
        return getattr(self, column)


TRACE_SCORE_COLUMNS = frozenset(f.name for f in fields(TraceScore))


def trace_list(workspace: Workspace, score_id: int) -> list[TraceScore]:
    """The score's traces, in import order."""
    with closing(workspace.connect(readonly=True)) as conn:
        rows = store_rb.trace_scores(conn, score_id)
    return [TraceScore(**{k: v for k, v in r.items() if k != "tokens"}) for r in rows]


@dataclass(frozen=True)
class ScoredTrace:
    """One trace (its traces row: id, ext_id, reasoning, ...), its score row in the score,
    and the per-token arrays (starts, ends, weight, weight_minmax, nll; None: no per-token
    rows were kept)."""

    trace: dict[str, Any]
    score: dict[str, Any]
    arrays: dict[str, np.ndarray] | None


def trace_tokens(workspace: Workspace, score_id: int, trace_id: int) -> ScoredTrace:
    """One trace's text and per-token arrays (what the per-token view colours)."""
    with closing(workspace.connect(readonly=True)) as conn:
        score = store_rb.get_score(conn, score_id)
        if score is None:
            raise NotFoundError(f"no rBridge score {score_id}")
        row = next(
            (
                t
                for t in traces.trace_rows(conn, score["benchmark_id"], with_probs=False)
                if t["id"] == trace_id
            ),
            None,
        )
        ts = store_rb.trace_score(conn, score_id, trace_id)
    if row is None or ts is None:
        raise NotFoundError(f"trace {trace_id} has no score in score {score_id}")
    arrays = unpack_token_rows(ts["tokens"]) if ts["tokens"] is not None else None
    return ScoredTrace(trace=row, score=ts, arrays=arrays)


# -- traces from a local model ----------------------------------------------------------------
def generate_spec(
    workspace: Workspace, benchmark: str, model: str, *, task: str | None = None, **kwargs: Any
) -> GenerateSpec:
    from engine.ops.hf_load import verify_causal_lm

    path = verify_causal_lm(model, load=False).path  # its job loads it, strictly
    with closing(workspace.connect(readonly=True)) as conn:
        bench = resolve_benchmark(conn, benchmark)
    return GenerateSpec(
        benchmark_id=int(bench["id"]), model=str(path), task=task or benchmark, **kwargs
    )


def teacher_force_spec(
    workspace: Workspace, benchmark: str, model: str, *, prompt: str | None = None, **kwargs: Any
) -> TeacherForceSpec:
    from engine.ops.hf_load import verify_causal_lm

    path = verify_causal_lm(model, load=False).path  # its job loads it, strictly
    with closing(workspace.connect(readonly=True)) as conn:
        bench = resolve_benchmark(conn, benchmark)
        if traces.traces_hash(conn, bench["id"])[1] == 0:
            raise UsageError(
                f"benchmark '{benchmark}' has no traces to teacher-force",
                fix=f"import them first: betr rbridge import PATH --benchmark {benchmark}",
            )
    return TeacherForceSpec(
        benchmark_id=int(bench["id"]),
        model=str(path),
        prompt=DEFAULT_PROMPT if prompt is None else prompt,
        **kwargs,
    )
