"""`betr proxy train`: a tiny GPT-NeoX-style proxy trained on a corpus (or on the docs a BETR
run keeps at --keep, the same cut as `betr select`), as a resumable job.

The texts are read in a seeded order, tokenized once (cached in the output directory), and
trained on by `engine.ops.train_lm`. Every resume state the trainer saves is committed with the
job's progress (tokens) and, when it is also a checkpoint, the checkpoint's registration as a
proxy of the dataset, in one transaction; the loss goes to the job log and the checkpoint. A
killed or cancelled job resumes from the last committed state and ends exactly where an
uninterrupted run would (CPU; batches and learning rate are functions of the step).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.betr.runindex import keep_count
from engine.betr.runs import require_state
from engine.betr.select import SELECTION_ORDERS
from engine.device import available_memory, detect_device
from engine.errors import UsageError
from engine.jobs.context import JobContext
from engine.jobs.kinds.checkpoints import ProxyTrainCheckpoint
from engine.jobs.specs import ProxyTrainSpec
from engine.jobs.train_dir import claim_out_dir
from engine.ops.lm_data import eot_id, prepare_tokenizer, prepare_tokens
from engine.ops.train_lm import (
    BUILDING,
    LMTrainer,
    ModelShape,
    TrainEvent,
    TrainSettings,
    check_memory,
    shape_for_budget,
    steps_for_tokens,
    training_memory,
)
from engine.rbridge.proxy_dir import check_model_dir, model_sha256
from engine.store import docs, proxies, scores
from engine.store import runs as store_runs
from engine.units import abbreviate

TEXT_CHUNK = 256
NEOX_VOCAB = 50_280  # entries of the bundled GPT-NeoX tokenizer


def run_train(ctx: JobContext, spec: ProxyTrainSpec) -> dict[str, Any]:
    state = ctx.restore(ProxyTrainCheckpoint)
    if state.finished:
        return state.result or {}
    out = Path(spec.out_dir)
    device = detect_device(spec.device)
    check_fits(spec, vocab_bound(spec.tokenizer), spec.tokens + 1, device)  # before any write
    if claim_out_dir(ctx.conn, out, ctx.job_id, spec.to_config()) == "take-over":
        ctx.log.info("took over %s from a job that stopped before its first checkpoint", out)
    trainer, n_docs = build_trainer(ctx, spec, out, device)
    if state.state_dir is None or not Path(state.state_dir).is_dir():
        if state.state_dir is not None:
            ctx.log.warning("resume state %s is gone; training from the start", state.state_dir)
        state = ProxyTrainCheckpoint()  # from the start: nothing saved, nothing registered
    trainer.setup(Path(state.state_dir) if state.state_dir else None)
    log_model(ctx, spec, trainer, n_docs)
    ctx.start_phase(trainer.total_tokens, "tokens", done=trainer.tokens_done)
    for ev in trainer.run():
        ctx.log.info(
            "step %d/%d  %s tokens  loss %.4f  %s tokens/s",
            ev.step,
            trainer.settings.total_steps,
            f"{ev.tokens:,}",
            ev.loss,
            f"{ev.rate:,.0f}" if ev.rate else "-",
        )
        if ev.kind == "log":  # progress only: a resume starts from the last saved state
            ctx.advance(ev.tokens - ctx.done, state.progress(ev.loss))
            continue
        state = commit_state(ctx, spec, trainer, state, ev)
        trainer.prune_states(keep=None if ev.done else ev.state_dir)
        if state.finished:
            return state.result or {}
    raise AssertionError("the trainer stopped before its last step")  # pragma: no cover


def build_trainer(
    ctx: JobContext, spec: ProxyTrainSpec, out: Path, device: str | None
) -> tuple[LMTrainer, int]:
    """The trainer over the training docs' tokens (tokenizer and tokens prepared, or read
    from the caches in `out`), and the number of docs they came from."""
    conn = ctx.conn
    doc_ids = training_doc_ids(conn, spec)
    settings = TrainSettings(
        seq_len=spec.seq_len,
        batch_size=spec.batch_size,
        total_steps=steps_for_tokens(spec.tokens, spec.batch_size, spec.seq_len),
        lr=spec.lr,
        seed=spec.seed,
        checkpoints=spec.checkpoints,
        device=spec.device,
    )
    need = settings.total_steps * settings.tokens_per_step + 1

    def texts() -> Iterator[str]:
        return iter_texts(conn, doc_ids, spec.seed)

    ctx.log.info("%d docs to train on; tokenizer %s", len(doc_ids), spec.tokenizer)
    tok, tok_path = prepare_tokenizer(out, spec.tokenizer, texts, need)
    source = {
        "corpus_id": spec.corpus_id,
        "selection_run": spec.selection_run,
        "keep": spec.keep,
        "docs": len(doc_ids),
        "seed": spec.seed,
        "need": need,
    }
    tokens, meta = prepare_tokens(out, tok, texts, need, source)
    if len(tokens) < spec.seq_len + 1:
        raise UsageError(
            f"the training docs hold {len(tokens)} tokens, less than one sequence "
            f"({spec.seq_len + 1})",
            fix="train on a larger corpus or selection, or pass a smaller --seq-len",
        )
    trainer = LMTrainer(
        out_dir=out,
        tokens=tokens,
        tokenizer_file=tok_path,
        shape=check_fits(spec, tok.get_vocab_size(), len(tokens), device),
        eos_id=eot_id(tok),
        settings=settings,
        meta={"dataset": spec.dataset, "seed": spec.seed, "tokenizer": spec.tokenizer},
        keep_checkpoint=lambda path: proxies.path_registered(conn, str(path.resolve())),
    )
    return trainer, meta["docs"]


def log_model(ctx: JobContext, spec: ProxyTrainSpec, trainer: LMTrainer, n_docs: int) -> None:
    shape, settings = trainer.shape, trainer.settings
    ctx.log.info(
        "model: hidden %d, %d layers, %d heads, vocab %d: %s params (budget %s); %d steps of "
        "%d tokens (%.2f epochs of %s tokens from %d docs) on %s%s",
        shape.hidden,
        shape.layers,
        shape.heads,
        shape.vocab,
        f"{shape.params:,}",
        f"{spec.params:,}",
        settings.total_steps,
        settings.tokens_per_step,
        trainer.epochs,
        f"{len(trainer.tokens):,}",
        n_docs,
        trainer.device,
        f", resuming at step {trainer.step}" if trainer.step else "",
    )
    if shape.params > 1.1 * spec.params:
        ctx.log.warning(
            "the smallest model for a %d-token vocabulary has %s parameters, above the budget "
            "of %s (the embeddings dominate; a smaller --tokenizer train:VOCAB fits better)",
            shape.vocab,
            f"{shape.params:,}",
            f"{spec.params:,}",
        )


def commit_state(
    ctx: JobContext,
    spec: ProxyTrainSpec,
    trainer: LMTrainer,
    state: ProxyTrainCheckpoint,
    ev: TrainEvent,
) -> ProxyTrainCheckpoint:
    """A saved training state committed with progress and, when it is also a checkpoint not
    registered yet, that checkpoint's registration as a proxy (in one transaction); the
    last state also records the job's result. Returns the checkpoint committed."""
    new = None
    if ev.checkpoint_dir is not None and ev.step not in {r["step"] for r in state.registered}:
        model_dir = check_model_dir(ev.checkpoint_dir)
        new = {
            "step": ev.step,
            "tokens": ev.tokens,
            "loss": ev.last_loss,
            "name": f"{spec.dataset}-{abbreviate(trainer.shape.params)}-{ev.tokens}tok",
            "path": str(model_dir.path),
            "sha256": model_sha256(model_dir),
        }

    def register(c: sqlite3.Connection) -> dict[str, Any] | None:
        return None if new is None else register_proxy(c, new, spec, trainer, ctx.job_id)

    def checkpoint(registered: dict[str, Any] | None) -> ProxyTrainCheckpoint:
        saved = state.saved(ev.step, ev.tokens, str(ev.state_dir), ev.loss, registered)
        return saved.finish(train_result(spec, trainer, ev, saved)) if ev.done else saved

    registered = ctx.commit_chunk(register, advance=ev.tokens - ctx.done, checkpoint=checkpoint)
    if registered is not None:
        ctx.log.info(
            "checkpoint %s registered as proxy %d", registered["name"], registered["proxy_id"]
        )
    return ctx.restore(ProxyTrainCheckpoint)  # the one just committed


def register_proxy(
    conn: sqlite3.Connection,
    new: dict[str, Any],
    spec: ProxyTrainSpec,
    trainer: LMTrainer,
    job_id: int,
) -> dict[str, Any]:
    """(inside the chunk's transaction) A checkpoint as a proxy of the dataset, under another
    name when another run's proxy has that one; returns its entry with the proxy id."""
    name = new["name"]
    taken = proxies.get_proxy(conn, name)
    if taken is not None and taken["path"] != new["path"]:  # another run's name
        name = f"{name}-job{job_id}"
    proxy_id = proxies.add_proxy(
        conn,
        name=name,
        path=new["path"],
        sha256=new["sha256"],
        model_type="gpt_neox",
        params=trainer.shape.params,
        dataset=spec.dataset,
        step=new["step"],
        tokens=new["tokens"],
        origin="trained",
        job_id=job_id,
    )
    return {**new, "name": name, "proxy_id": proxy_id}


def train_result(
    spec: ProxyTrainSpec, trainer: LMTrainer, ev: TrainEvent, state: ProxyTrainCheckpoint
) -> dict[str, Any]:
    """The job's result at its last saved state."""
    shape = trainer.shape
    return {
        "dataset": spec.dataset,
        "out_dir": str(Path(spec.out_dir)),
        "params": shape.params,
        "budget": spec.params,
        "shape": {"hidden": shape.hidden, "layers": shape.layers, "heads": shape.heads},
        "vocab": shape.vocab,
        "final_loss": ev.last_loss,
        "tokens": ev.tokens,
        "steps": ev.step,
        "epochs": round(trainer.epochs, 4),
        "tokens_per_s": round(ev.rate, 1) if ev.rate else None,
        "device": trainer.device,
        "checkpoints": list(state.registered),
    }


def vocab_bound(tokenizer: str) -> int:
    """The most entries the vocabulary of a --tokenizer can have, before it is built."""
    if tokenizer.startswith("train:"):
        return int(tokenizer.partition(":")[2])
    if tokenizer.startswith("file:") and Path(tokenizer[len("file:") :]).is_file():
        from tokenizers import Tokenizer

        return Tokenizer.from_file(tokenizer[len("file:") :]).get_vocab_size()
    return NEOX_VOCAB


def check_fits(spec: ProxyTrainSpec, vocab: int, n_tokens: int, device: str | None) -> ModelShape:
    """The model shape of the spec's budget, or a UsageError with the memory estimate when
    training it would not fit in what `device` has free. device None (not resolved yet: that
    needs torch): only what building the model needs on the host is checked."""
    shape = shape_for_budget(spec.params, vocab, spec.seq_len)
    what = f"a {abbreviate(shape.params)}-parameter proxy"
    if abs(shape.params - spec.params) > 0.1 * spec.params:
        what += f" (the shape closest to the budget of {abbreviate(spec.params)})"
    if device is None:
        need = 4 * shape.params + 4 * n_tokens
        check_memory(need, available_memory("cpu"), "cpu", what, BUILDING)
    else:
        need = training_memory(shape, spec.batch_size, spec.seq_len, n_tokens)
        check_memory(need, available_memory(device), device, what)
    return shape


def training_doc_ids(conn, spec: ProxyTrainSpec) -> np.ndarray:
    """The corpus's doc ids, or those a BETR run keeps at spec.keep (by tokens, the cut of
    `betr select`; in another selection_order, e.g. "bottom" or "random", the docs that order
    takes for that token share: engine.betr.select.SELECTION_ORDERS), ascending."""
    if spec.selection_run is None:
        ids = docs.corpus_doc_ids(conn, spec.corpus_id)
        if not len(ids):
            raise UsageError(f"corpus {spec.corpus_id} has no documents")
        return ids
    run = store_runs.get_run(conn, spec.selection_run)
    require_state(run, "applied", action="train on its selection")
    if run["corpus_id"] != spec.corpus_id:
        raise UsageError(
            f"run {run['id']} selects from corpus '{run['corpus']}', not from the corpus to "
            "train on",
            fix=f"pass --corpus {run['corpus']}",
        )
    cols = scores.read_packed(conn, run["id"]) or scores.build_run_columns(conn, run["id"])
    ids = np.asarray(cols["doc_id"], dtype=np.int64)  # by p(positive), best first
    n_tokens = np.asarray(cols["n_tokens"], dtype=np.int64)
    ids, n_tokens = SELECTION_ORDERS[spec.selection_order].order(ids, n_tokens, spec.seed)
    kept = keep_count(np.cumsum(n_tokens), float(spec.keep), "tokens")
    if kept == 0:
        raise UsageError(f"run {run['id']} has no scored documents", fix="apply it again")
    return np.sort(ids[:kept])


def iter_texts(conn, doc_ids: np.ndarray, seed: int) -> Iterator[str]:
    """The docs' texts in a seeded order (a doc deleted meanwhile is skipped)."""
    order = np.random.default_rng(seed).permutation(np.asarray(doc_ids, dtype=np.int64))
    for start in range(0, len(order), TEXT_CHUNK):
        part = [int(i) for i in order[start : start + TEXT_CHUNK]]
        found = docs.docs_by_ids(conn, part, ("text",))
        for i in part:
            if i in found:
                yield found[i]["text"]
