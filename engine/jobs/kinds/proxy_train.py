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
from engine.jobs.specs import ProxyTrainSpec
from engine.jobs.train_dir import claim_out_dir
from engine.ops.lm_data import eot_id, prepare_tokenizer, prepare_tokens
from engine.ops.train_lm import (
    BUILDING,
    LMTrainer,
    ModelShape,
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
    cp = dict(ctx.checkpoint or {})
    if cp.get("finished"):
        return cp["result"]
    out = Path(spec.out_dir)
    conn = ctx.conn
    device = detect_device(spec.device)
    check_fits(spec, vocab_bound(spec.tokenizer), spec.tokens + 1, device)  # before any write
    verdict = claim_out_dir(conn, out, ctx.job_id, spec.to_config())
    if verdict == "take-over":
        ctx.log.info("took over %s from a job that stopped before its first checkpoint", out)
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
    shape = check_fits(spec, tok.get_vocab_size(), len(tokens), device)
    trainer = LMTrainer(
        out_dir=out,
        tokens=tokens,
        tokenizer_file=tok_path,
        shape=shape,
        eos_id=eot_id(tok),
        settings=settings,
        meta={"dataset": spec.dataset, "seed": spec.seed, "tokenizer": spec.tokenizer},
        keep_checkpoint=lambda path: proxies.path_registered(conn, str(path.resolve())),
    )
    state_dir = cp.get("state_dir")
    if state_dir is not None and not Path(state_dir).is_dir():
        ctx.log.warning("resume state %s is gone; training from the start", state_dir)
        state_dir = None
    trainer.setup(Path(state_dir) if state_dir else None)
    registered: list[dict[str, Any]] = list(cp.get("registered", [])) if state_dir else []
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
        f"{len(tokens):,}",
        meta["docs"],
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
    ctx.start_phase(trainer.total_tokens, "tokens", done=trainer.tokens_done)
    state_cp: dict[str, Any] = {k: cp[k] for k in ("step", "tokens", "state_dir") if k in cp}
    if not state_dir:
        state_cp = {"step": 0, "tokens": 0, "state_dir": None}
    label = abbreviate(shape.params)
    for ev in trainer.run():
        ctx.log.info(
            "step %d/%d  %s tokens  loss %.4f  %s tokens/s",
            ev.step,
            settings.total_steps,
            f"{ev.tokens:,}",
            ev.loss,
            f"{ev.rate:,.0f}" if ev.rate else "-",
        )
        if ev.kind == "log":  # progress only: a resume starts from the last saved state
            ctx.commit_chunk(
                lambda _c: None,
                advance=ev.tokens - ctx.done,
                checkpoint={
                    **state_cp,
                    "registered": registered,
                    "loss": ev.loss,
                    "resumes_at": state_cp["tokens"],
                },
            )
            continue
        new = None
        if ev.checkpoint_dir is not None and ev.step not in {r["step"] for r in registered}:
            model_dir = check_model_dir(ev.checkpoint_dir)
            new = {
                "step": ev.step,
                "tokens": ev.tokens,
                "loss": ev.last_loss,
                "name": f"{spec.dataset}-{label}-{ev.tokens}tok",
                "path": str(model_dir.path),
                "sha256": model_sha256(model_dir),
            }
        state_cp = {"step": ev.step, "tokens": ev.tokens, "state_dir": str(ev.state_dir)}
        checkpoint = {
            **state_cp,
            "registered": registered,
            "loss": ev.loss,
            "resumes_at": ev.tokens,
        }
        result = None
        if ev.done:
            result = {
                "dataset": spec.dataset,
                "out_dir": str(out),
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
                "checkpoints": registered,
            }
            checkpoint.update(finished=True, result=result)

        def write(c, new=new) -> None:
            if new is not None:
                taken = proxies.get_proxy(c, new["name"])
                if taken is not None and taken["path"] != new["path"]:  # another run's name
                    new["name"] = f"{new['name']}-job{ctx.job_id}"
                new["proxy_id"] = proxies.add_proxy(
                    c,
                    name=new["name"],
                    path=new["path"],
                    sha256=new["sha256"],
                    model_type="gpt_neox",
                    params=shape.params,
                    dataset=spec.dataset,
                    step=new["step"],
                    tokens=new["tokens"],
                    origin="trained",
                    job_id=ctx.job_id,
                )
                registered.append(new)  # (the checkpoint dict is serialised after write)

        ctx.commit_chunk(write, advance=ev.tokens - ctx.done, checkpoint=checkpoint)
        if new is not None:
            ctx.log.info("checkpoint %s registered as proxy %d", new["name"], new["proxy_id"])
        trainer.prune_states(keep=None if ev.done else ev.state_dir)
        if result is not None:
            return result
    raise AssertionError("the trainer stopped before its last step")  # pragma: no cover


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
