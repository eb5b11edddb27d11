"""Proxy models: register a local causal LM directory, train tiny ones, evaluate them on
multiple-choice benchmarks, and read their curves (checkpoints of one dataset by tokens)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.api.records import Record
from engine.betr.select import SELECTION_ORDERS as SELECTION_ORDERS  # registries, for the faces
from engine.errors import NotFoundError, UsageError
from engine.jobs.kinds.proxy_train import check_fits, vocab_bound
from engine.jobs.specs import McEvalSpec, ProxyTrainSpec
from engine.jobs.train_dir import check_out_dir, default_out_dir
from engine.ops.proxy_nll import BOS_MODES as BOS_MODES
from engine.rbridge.proxy_dir import check_model_dir, model_sha256
from engine.store import catalog, evals, proxies
from engine.store.db import transaction
from engine.terminal import check_name, check_path_name
from engine.workspace import Workspace


def parse_count(text: str | None, name: str) -> int | None:
    """ "2M", "500k", "1.5e6", "300000" -> int (`--params`, `--tokens`, the train form)."""
    if text is None:
        return None
    raw = str(text).strip().lower().replace("_", "").replace(",", "")
    scale = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9}.get(raw[-1:], 1)
    try:
        value = float(raw[:-1] if scale != 1 else raw) * scale
    except ValueError:
        raise UsageError(f"{name} '{text}' is not a number", fix=f"e.g. {name} 2M") from None
    if value <= 0 or value != int(value):
        raise UsageError(f"{name} must be a positive whole number, got '{text}'")
    return int(value)


@dataclass(frozen=True)
class ProxyInfo(Record):
    """A registered proxy model."""

    id: int
    name: str
    path: str  # its model directory
    sha256: str  # of its model files
    model_type: str | None
    params: int | None
    dataset: str | None  # the data it was trained on (a curve: one dataset by tokens)
    step: int | None
    tokens: int | None  # training tokens
    origin: str  # added | trained
    job_id: int | None  # the training job
    created_at: float  # unix seconds


@dataclass(frozen=True)
class EvalRow(Record):
    """An evaluation result, long shape: one value of one metric on one benchmark for one model
    of a run (a dataset / mixture / series) at a size, tokens or step."""

    id: int
    run: str
    size: str | None  # model size label
    params: int | None
    tokens: int | None
    step: int | None
    stage: str | None  # PT, SFT, ...
    benchmark: str
    category: str | None
    metric: str
    value: float | None
    attrs: dict[str, Any] | None  # run attributes
    source: str  # proxy:<id>, a file path, ...
    proxy_id: int | None
    job_id: int | None
    import_id: int | None  # the import it came from (engine.api.results)


def add_proxy(
    workspace: Workspace,
    path: str,
    *,
    name: str | None = None,
    tokens: int | None = None,
    dataset: str | None = None,
    step: int | None = None,
) -> ProxyInfo:
    """Register a Hugging Face causal LM directory (config.json, *.safetensors, tokenizer.json;
    never a pickle), after loading it far enough to know it is one (engine.ops.hf_load.
    verify_causal_lm: a known causal architecture without remote code, weights that match the
    config exactly, a tokenizer with offsets); its sha256 is recorded."""
    from engine.ops.hf_load import verify_causal_lm

    model = check_model_dir(path)
    name = name or model.path.name
    check_name("proxy", name)
    for label, value in (("--tokens", tokens), ("--step", step)):
        if value is not None and value < 0:
            raise UsageError(f"{label} must not be negative, got {value}")
    sha = model_sha256(model)
    verify_causal_lm(model.path)
    with closing(workspace.connect()) as conn:
        existing = proxies.get_proxy(conn, name)
        if existing is not None and (existing["path"], existing["sha256"]) != (
            str(model.path),
            sha,
        ):
            raise UsageError(
                f"proxy '{name}' already exists ({existing['path']})",
                fix="choose another --name",
            )
        with transaction(conn):
            proxy_id = proxies.add_proxy(
                conn,
                name=name,
                path=str(model.path),
                sha256=sha,
                model_type=model.model_type,
                params=model.n_params_estimate,
                dataset=dataset,
                step=step,
                tokens=tokens,
            )
        return resolve_proxy(conn, proxy_id)


def list_proxies(workspace: Workspace) -> list[ProxyInfo]:
    with closing(workspace.connect(readonly=True)) as conn:
        return [ProxyInfo(**p) for p in proxies.list_proxies(conn)]


def resolve_proxy(conn: sqlite3.Connection, ref: str | int) -> ProxyInfo:
    """A proxy by id or name (NotFoundError with the closest names)."""
    from engine.names import suggest

    proxy = proxies.get_proxy(conn, ref)
    if proxy is None:
        names = proxies.proxy_names(conn)
        raise NotFoundError(
            f"no proxy '{ref}'",
            fix=suggest(str(ref), names, "proxy", plural="proxies", listing="betr proxy list")
            if names
            else "register one: betr proxy add PATH, or train one: betr proxy train",
        )
    return ProxyInfo(**proxy)


def get_proxy(workspace: Workspace, ref: str | int) -> ProxyInfo:
    with closing(workspace.connect(readonly=True)) as conn:
        return resolve_proxy(conn, ref)


def train_spec(
    workspace: Workspace,
    *,
    corpus: str,
    params: int,
    tokens: int,
    checkpoints: int = 4,
    selection: int | None = None,
    keep: float | None = None,
    dataset: str | None = None,
    seed: int = 0,
    tokenizer: str = "neox",
    out_dir: str | None = None,
    **kwargs: Any,
) -> ProxyTrainSpec:
    """The checked spec of `betr proxy train`. The dataset name defaults to the corpus (or
    "<corpus>-run<R>-top<X>%" for a selection) and must be one plain file name; checkpoints go
    under the workspace unless `out_dir` names a new, empty or betr-made directory that no
    other job owns (engine.jobs.train_dir); a model that cannot fit in the device's free
    memory is refused with the estimate. Nothing is written."""
    with closing(workspace.connect(readonly=True)) as conn:
        row = catalog.corpus_by_name(conn, corpus)
        if row is None:
            raise catalog.not_found_corpus(conn, corpus)
        if row["state"] != "ready":
            raise UsageError(f"corpus '{corpus}' is still importing", fix="wait for its import")
    if dataset is None:
        dataset = corpus if selection is None else f"{corpus}-run{selection}-top{_pct(keep)}"
    check_path_name("dataset", dataset)
    spec = ProxyTrainSpec(
        corpus_id=int(row["id"]),
        dataset=dataset,
        out_dir=os.path.abspath(os.path.expanduser(out_dir)) if out_dir else "",
        params=params,
        tokens=tokens,
        checkpoints=checkpoints,
        selection_run=selection,
        keep=keep,
        seed=seed,
        tokenizer=tokenizer,
        **kwargs,
    )
    if not out_dir:  # under the workspace, named by everything that makes the run distinct
        spec = replace(spec, out_dir=str(default_out_dir(workspace.root, spec.to_config())))
    with closing(workspace.connect(readonly=True)) as conn:
        check_out_dir(conn, Path(spec.out_dir))
    # the device is resolved by the job (that imports torch); the CPU is known here
    on_cpu = spec.device == "cpu" or os.environ.get("BETR_DEVICE") == "cpu"
    check_fits(spec, vocab_bound(spec.tokenizer), spec.tokens + 1, "cpu" if on_cpu else None)
    return spec


def _pct(keep: float | None) -> str:
    return "" if keep is None else f"{keep * 100:g}%"


def mc_eval_spec(
    workspace: Workspace,
    proxy: str,
    benchmarks: Sequence[str],
    *,
    limit: int | None = None,
    device: str = "auto",
    bos: str = "auto",
) -> McEvalSpec:
    """The checked spec of `betr proxy eval`; `bos` one of auto (follow the
    tokenizer.json), always / never (one BOS, or none) (ProxyNLL.encode_context)."""
    with closing(workspace.connect(readonly=True)) as conn:
        p = resolve_proxy(conn, proxy)
        ids = catalog.benchmark_ids(conn)
        if not ids:
            raise NotFoundError(
                f"no benchmark '{benchmarks[0]}'", fix="import one: betr import bench PATH --name N"
            )
        from engine.names import resolve

        benchmarks = [
            resolve(b, ids, "benchmark", listing="betr list benchmarks") for b in benchmarks
        ]
    return McEvalSpec(
        proxy_id=p.id,
        benchmark_ids=tuple(ids[b] for b in benchmarks),
        limit=limit,
        device=device,
        bos=bos,
    )


def proxy_results(
    workspace: Workspace, *, benchmark: str | None = None, proxy: str | None = None
) -> list[EvalRow]:
    """The proxies' evaluation rows (long shape)."""
    from engine.names import resolve

    with closing(workspace.connect(readonly=True)) as conn:
        proxy_id = resolve_proxy(conn, proxy).id if proxy else None
        if benchmark is not None:  # the proxies' rows carry the imported benchmark's name
            known = catalog.benchmark_ids(conn)
            benchmark = resolve(benchmark, known, "benchmark") if known else benchmark
        return [
            EvalRow(**r)
            for r in evals.eval_results(conn, benchmark=benchmark, proxy_id=proxy_id)
            if r["proxy_id"] is not None
        ]
