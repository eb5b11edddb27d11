"""`betr rbridge ...` (traces, scores) and `betr proxy ...` (proxy models): rBridge proxy
evaluation on the command line, on the same engine API as the rBridge screen."""

from __future__ import annotations

import click

from engine.cli.common import (
    BetrGroup,
    RegistryChoice,
    echo,
    emit_json,
    obj,
    print_table,
    report_skipped,
    run_job,
)

DETACH = click.option("--detach", is_flag=True, help="Run as a background job and return at once.")
DEVICE = click.option(
    "--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N, mps."
)
PROMPT = click.option(
    "--prompt",
    default=None,
    help='Context before the trace; {x} is the question (default "Question: {x}\\nAnswer: ").',
)


def _trace_formats():
    from engine.api.rbridge import TRACE_FORMATS

    return TRACE_FORMATS


def _minmax_scopes():
    from engine.api.rbridge import MINMAX_SCOPES

    return MINMAX_SCOPES


def _selection_orders():
    from engine.api.proxies import SELECTION_ORDERS

    return SELECTION_ORDERS


def _bos_modes():
    from engine.api.proxies import BOS_MODES

    return BOS_MODES


FORMATS = RegistryChoice(_trace_formats)


@click.group("rbridge", cls=BetrGroup)
def rbridge_group() -> None:
    """rBridge: score small proxies on frontier reasoning traces, weighted by the frontier's
    letter-level confidence."""


@rbridge_group.command("import")
@click.argument("paths", nargs=-1, required=True)
@click.option("--benchmark", required=True, help="The imported benchmark the traces answer.")
@click.option("--format", "fmt", type=FORMATS, required=True)
@click.option(
    "--field-map",
    default=None,
    help="Field names for the rbridge (and openai) formats, e.g. id=custom_id,token=tok.",
)
@click.option("--skip-bad", is_flag=True, help="Skip bad records (and report them).")
@click.option("--replace", is_flag=True, help="Replace the benchmark's traces (drops scores).")
def import_cmd(paths, benchmark, fmt, field_map, skip_bad, replace):
    """Import reasoning traces (all or nothing, unless --skip-bad)."""
    from engine.api.rbridge import import_traces

    result = import_traces(
        obj().workspace,
        paths,
        benchmark,
        fmt=fmt,
        field_map=field_map,
        skip_bad=skip_bad,
        replace=replace,
    )
    if obj().json:
        emit_json(result.to_json())
        return
    report_skipped(result.to_json())
    echo(
        f"imported {result.imported} trace(s) into '{benchmark}' "
        f"({result.with_probs} with letter probabilities"
        + (
            f", gold from the benchmark for {result.gold_from_benchmark}"
            if result.gold_from_benchmark
            else ""
        )
        + (f", replaced {result.replaced}" if result.replaced else "")
        + ")"
    )
    if result.with_probs < result.imported:
        echo(
            "note: traces without letter probabilities score as plain NLL (flag no-probs); "
            f"give them probabilities with: betr rbridge teacher-force --benchmark {benchmark} "
            "--model PATH",
            err=True,
        )


@rbridge_group.command("traces")
def traces_cmd():
    """Benchmarks with traces: how many, how many with letter probabilities."""
    from engine.api.rbridge import list_traces

    rows = [t.to_json() for t in list_traces(obj().workspace)]
    if obj().json:
        emit_json(rows)
        return
    print_table(
        rows,
        [
            ("benchmark", "benchmark"),
            ("traces", "traces"),
            ("with_probs", "with probs"),
            ("formats", "formats"),
        ],
        "no traces yet: betr rbridge import PATH --benchmark B --format F",
    )


@rbridge_group.command("score")
@click.option("--proxy", required=True, help="Proxy name or id (betr proxy list).")
@click.option("--benchmark", required=True)
@click.option(
    "--minmax",
    type=RegistryChoice(_minmax_scopes),
    default="trace",
    show_default=True,
    help="Range of the MinMax weight scaling: each trace (Algorithm 1) or the whole benchmark.",
)
@PROMPT
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--rescore", is_flag=True, help="Recompute even when a cached score exists.")
@DEVICE
@DETACH
def score_cmd(proxy, benchmark, minmax, prompt, batch_size, rescore, device, detach):
    """Score a proxy on a benchmark's traces (or reuse the cached score)."""
    from engine.api.jobs import start
    from engine.api.rbridge import plan_score, show

    ws = obj().workspace
    plan = plan_score(
        ws,
        proxy,
        benchmark,
        minmax=minmax,
        prompt=prompt,
        batch_size=batch_size,
        device=device,
        rescore=rescore,
    )
    for note in plan.notes:
        echo(f"note: {note}", err=True)
    if plan.spec is not None:
        if detach:
            job_id = start(ws, plan.spec, title=f"rbridge score {plan.proxy} on {benchmark}")
            if obj().json:
                emit_json({"score_id": plan.score_id, "job_id": job_id, "cached": False})
            else:
                echo(f"scoring in the background as job {job_id}: betr jobs show {job_id}")
            return
        run_job(plan.spec, False, title=f"rbridge score {plan.proxy} on {benchmark}")
    result = {**show(ws, plan.proxy, benchmark, minmax=minmax).to_json(), "cached": plan.cached}
    if obj().json:
        emit_json(result)
    else:
        _print_summary(result)


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.4f}"


def _print_summary(r: dict) -> None:
    echo(
        f"{r['proxy']} on {r['benchmark']} (MinMax per {r['minmax']}, {r['n_traces']} traces"
        + (", cached" if r.get("cached") else "")
        + f"): rBridge {_fmt(r['rbridge'])}  R-phi {_fmt(r['nll_rphi'])}  "
        f"gold {_fmt(r['nll_gold'])}  bpb_prompted {_fmt(r.get('bpb_prompted'))}"
    )
    if r.get("bpb") is not None:
        echo(
            f"masked spans, as the rBridge release ({r.get('n_mask_traces')} traces, summed): "
            f"bpb {_fmt(r['bpb'])}  byte perplexity {_fmt(r.get('byte_perplexity'))}  "
            f"word perplexity {_fmt(r.get('word_perplexity'))}"
        )
    if r.get("flags"):
        echo("flags: " + ", ".join(f"{k} {v}" for k, v in sorted(r["flags"].items())))


@rbridge_group.command("show")
@click.option("--proxy", required=True)
@click.option("--benchmark", required=True)
@click.option("--trace", default=None, help="A trace's own id: its score and per-token rows.")
@click.option("--minmax", type=RegistryChoice(_minmax_scopes), default=None)
@click.option("--top", type=int, default=None, help="Only the K tokens with most weighted NLL.")
def show_cmd(proxy, benchmark, trace, minmax, top):
    """A proxy's rBridge numbers on a benchmark, or one trace's per-token rows."""
    from engine.api.rbridge import show

    result = show(obj().workspace, proxy, benchmark, trace=trace, minmax=minmax).to_json()
    t = result.get("trace")
    if t is not None and top is not None:
        ranked = sorted(
            t["tokens"],
            key=lambda r: -((r["nll"] or 0) * (r["weight_minmax"] or 0)),
        )
        t = result["trace"] = {**t, "tokens": ranked[:top]}
    if obj().json:
        emit_json(result)
        return
    _print_summary(result)
    if t is not None:
        echo(
            f"trace {t['id']}: score {_fmt(t['score'])}  R-phi {_fmt(t['nll_rphi'])}  "
            f"gold {_fmt(t['nll_gold'])}  probabilities: {t['prob_source']}"
            + (f"  flags: {', '.join(t['flags'])}" if t["flags"] else "")
        )
        rows = [
            {
                **r,
                **{k: _fmt(r[k]) for k in ("weight", "weight_minmax", "nll")},
                "token": repr(r["token"]),
            }
            for r in t["tokens"]
        ]
        print_table(
            rows,
            [
                ("token", "token"),
                ("start", "start"),
                ("end", "end"),
                ("weight", "weight"),
                ("weight_minmax", "minmax"),
                ("nll", "nll"),
            ],
            "no tokens",
        )


@rbridge_group.command("scores")
@click.option("--benchmark", default=None)
def scores_cmd(benchmark):
    """Every rBridge score with its proxy's dataset, step and tokens."""
    from engine.api.rbridge import scores_table

    rows = [r.to_json() for r in scores_table(obj().workspace, benchmark)]
    if obj().json:
        emit_json(rows)
        return
    keys = ("rbridge", "nll_rphi", "nll_gold", "bpb", "bpb_prompted")
    shown = [{**r, **{k: _fmt(r.get(k)) for k in keys}} for r in rows]
    print_table(
        shown,
        [
            ("score_id", "id"),
            ("proxy", "proxy"),
            ("benchmark", "benchmark"),
            ("state", "state"),
            ("minmax", "minmax"),
            ("tokens", "tokens"),
            ("rbridge", "rBridge"),
            ("nll_rphi", "R-phi"),
            ("nll_gold", "gold"),
            ("bpb", "bpb (mask)"),
            ("bpb_prompted", "bpb_prompted"),
        ],
        "no rBridge scores yet: betr rbridge score --proxy P --benchmark B",
    )


@rbridge_group.command("generate")
@click.option("--benchmark", required=True)
@click.option("--model", required=True, help="A local causal LM directory (the frontier).")
@click.option("--task", default=None, help="Task words in the system prompt (default: benchmark).")
@click.option("--limit", type=int, default=None, help="Only the first N questions.")
@click.option("--max-new-tokens", type=int, default=512, show_default=True)
@click.option("--batch-size", type=int, default=4, show_default=True)
@DEVICE
@DETACH
def generate_cmd(benchmark, model, task, limit, max_new_tokens, batch_size, device, detach):
    """Generate traces with per-token log-probabilities from a local model (greedy)."""
    from engine.api.rbridge import generate_spec

    spec = generate_spec(
        obj().workspace,
        benchmark,
        model,
        task=task,
        limit=limit,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        device=device,
    )
    _print_result(run_job(spec, detach, title=f"generate traces for {benchmark}"))


@rbridge_group.command("teacher-force")
@click.option("--benchmark", required=True)
@click.option("--model", required=True, help="A local causal LM directory.")
@PROMPT
@click.option("--overwrite", is_flag=True, help="Also replace probabilities a trace has.")
@click.option("--batch-size", type=int, default=4, show_default=True)
@DEVICE
@DETACH
def teacher_force_cmd(benchmark, model, prompt, overwrite, batch_size, device, detach):
    """Letter probabilities for traces that have none, by scoring them under a local model."""
    from engine.api.rbridge import teacher_force_spec

    spec = teacher_force_spec(
        obj().workspace,
        benchmark,
        model,
        prompt=prompt,
        overwrite=overwrite,
        batch_size=batch_size,
        device=device,
    )
    _print_result(run_job(spec, detach, title=f"teacher-force traces of {benchmark}"))


def _print_result(result: dict | None) -> None:
    if result is None:
        return
    if obj().json:
        emit_json(result)
    else:
        for key, value in result.items():
            echo(f"{key}: {value}")


# -- proxies ------------------------------------------------------------------------------------
@click.group("proxy", cls=BetrGroup)
def proxy_group() -> None:
    """Proxy models: local causal LMs (register, train tiny ones, evaluate)."""


@proxy_group.command("add")
@click.argument("path")
@click.option("--name", default=None, help="Default: the directory's name.")
@click.option("--tokens", default=None, help="Training tokens of this checkpoint, e.g. 2.5B.")
@click.option("--dataset", default=None, help="The data it was trained on (a curve per dataset).")
@click.option("--step", type=int, default=None)
def proxy_add(path, name, tokens, dataset, step):
    """Register a Hugging Face causal LM directory (config.json, *.safetensors, tokenizer.json)."""
    from engine.api.proxies import add_proxy, parse_count

    result = add_proxy(
        obj().workspace,
        path,
        name=name,
        tokens=parse_count(tokens, "--tokens"),
        dataset=dataset,
        step=step,
    )
    if obj().json:
        emit_json({"proxy_id": result.id, "name": result.name, "sha256": result.sha256})
    else:
        echo(f"proxy {result.id} '{result.name}' ({result.params or '?'} params)")


@proxy_group.command("list")
def proxy_list():
    """Every proxy, by dataset and training tokens."""
    from engine.api.proxies import list_proxies

    rows = [p.to_json() for p in list_proxies(obj().workspace)]
    if obj().json:
        emit_json(rows)
        return
    print_table(
        rows,
        [
            ("id", "id"),
            ("name", "name"),
            ("dataset", "dataset"),
            ("params", "params"),
            ("tokens", "tokens"),
            ("step", "step"),
            ("origin", "origin"),
            ("path", "path"),
        ],
        "no proxies yet: betr proxy add PATH, or betr proxy train --corpus C ...",
    )


@proxy_group.command("train")
@click.option("--corpus", required=True)
@click.option("--selection", "selection", type=int, default=None, help="A BETR run id.")
@click.option("--keep", default=None, help="With --selection: the kept share, e.g. 10%.")
@click.option(
    "--order",
    type=RegistryChoice(_selection_orders),
    default="top",
    show_default=True,
    help="With --selection: the top, the bottom or a random draw of that token share.",
)
@click.option("--params", required=True, help="Parameter budget, e.g. 2M.")
@click.option("--tokens", required=True, help="Training tokens, e.g. 5M.")
@click.option("--checkpoints", type=int, default=4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--tokenizer",
    default="neox",
    show_default=True,
    help="neox (GPT-NeoX) or train:VOCAB (a BPE trained on the corpus).",
)
@click.option("--dataset", default=None, help="Name of the curve (default from the corpus).")
@click.option("--seq-len", type=int, default=256, show_default=True)
@click.option(
    "--out", "out_dir", default=None, help="Checkpoint directory (default: under the workspace)."
)
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@DEVICE
@DETACH
def proxy_train(
    corpus,
    selection,
    keep,
    order,
    params,
    tokens,
    checkpoints,
    seed,
    tokenizer,
    dataset,
    seq_len,
    out_dir,
    batch_size,
    lr,
    device,
    detach,
):
    """Train a tiny GPT-NeoX-style proxy; each checkpoint is registered as a proxy."""
    from engine.api.proxies import parse_count, train_spec
    from engine.api.select import parse_keep

    spec = train_spec(
        obj().workspace,
        corpus=corpus,
        params=parse_count(params, "--params"),
        tokens=parse_count(tokens, "--tokens"),
        checkpoints=checkpoints,
        selection=selection,
        keep=parse_keep(keep) if keep is not None else None,
        selection_order=order,
        dataset=dataset,
        seed=seed,
        tokenizer=tokenizer,
        seq_len=seq_len,
        out_dir=out_dir,
        batch_size=batch_size,
        lr=lr,
        device=device,
    )
    _print_result(run_job(spec, detach))


@proxy_group.command("eval")
@click.option("--proxy", required=True)
@click.option("--benchmark", "benchmarks", required=True, help="Comma-separated MC benchmarks.")
@click.option("--limit", type=int, default=None, help="Only the first N items of each.")
@click.option(
    "--bos",
    type=RegistryChoice(_bos_modes),
    default="auto",
    show_default=True,
    help="BOS before each context: auto = what the tokenizer.json adds; always = the model's "
    "bos_token_id; never = none (lm-eval without add_bos_token on a bare tokenizer.json).",
)
@DEVICE
@DETACH
def proxy_eval(proxy, benchmarks, limit, bos, device, detach):
    """Multiple-choice metrics of a proxy: acc, acc_norm and acc_bytes (lm-eval's), acc_per_char
    (OLMES's) and confidence; per-item rows with `betr results show --items`."""
    from engine.api.proxies import mc_eval_spec

    names = [b.strip() for b in benchmarks.split(",") if b.strip()]
    spec = mc_eval_spec(obj().workspace, proxy, names, limit=limit, device=device, bos=bos)
    _print_result(run_job(spec, detach, title=f"mc-eval {proxy} on {', '.join(names)}"))


@proxy_group.command("results")
@click.option("--proxy", default=None)
@click.option("--benchmark", default=None)
def proxy_results(proxy, benchmark):
    """The proxies' evaluation results (long shape: run, tokens, benchmark, metric, value)."""
    from engine.api.proxies import proxy_results as results

    rows = [r.to_json() for r in results(obj().workspace, benchmark=benchmark, proxy=proxy)]
    if obj().json:
        emit_json(rows)
        return
    print_table(
        rows,
        [
            ("run", "run"),
            ("params", "params"),
            ("tokens", "tokens"),
            ("step", "step"),
            ("benchmark", "benchmark"),
            ("metric", "metric"),
            ("value", "value"),
        ],
        "no results yet: betr proxy eval / betr rbridge score",
    )


COMMANDS = (rbridge_group, proxy_group)
