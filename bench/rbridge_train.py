"""Proxy trainer throughput vs a bare transformers training loop, measured in the same run.

Trainer: `engine.ops.train_lm.LMTrainer.run()` as the proxy-train job drives it: per step the
learning rate of the step, the batch of the step (indexed from the token array on the device),
forward + cross-entropy (bf16 autocast on a GPU), backward, clip at 1.0, AdamW; the loss is read
back only at log events; one checkpoint + resume state at the end (timed in).
Baseline: the same GPTNeoXForCausalLM (same config and seed), the same batches (precomputed on the
device, not timed), the same AdamW groups, `transformers.get_cosine_schedule_with_warmup`, the
same loss and clipping, in a plain Python loop with nothing else.

Texts: ../shared/data/web_docs/combined_docs.jsonl when present, else generated words; the
tokenizer is a BPE trained on them (--tokenizer, default train:4096). Setup is not timed.
Trainer and baseline alternate `--repeat` times; the best of each is compared.

    python bench/rbridge_train.py [--params 2M] [--steps 30] [--seq-len 128] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.ops import lm_data  # noqa: E402
from engine.ops.train_lm import (  # noqa: E402
    LMTrainer,
    TrainSettings,
    build_model,
    lm_loss,
    make_optimizer,
    shape_for_budget,
)

SHARED = Path(os.environ.get("BETR_SHARED_DATA", REPO.parent / "shared" / "data"))
DOCS = SHARED / "web_docs" / "combined_docs.jsonl"


def load_texts(n_chars: int) -> list[str]:
    texts: list[str] = []
    total = 0
    if DOCS.is_file():
        with DOCS.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    texts.append(json.loads(line)["text"])
                    total += len(texts[-1])
                    if total >= n_chars:
                        return texts
    rng = random.Random(0)
    words = [f"w{i}" for i in range(2000)]
    while total < n_chars:
        texts.append(" ".join(rng.choice(words) for _ in range(200)))
        total += len(texts[-1])
    return texts


def parse_count(text: str) -> int:
    scale = {"k": 1e3, "m": 1e6, "b": 1e9}.get(text[-1].lower(), 1)
    return int(float(text[:-1] if scale != 1 else text) * scale)


def make_trainer(out: Path, args, tok, tok_path, tokens) -> LMTrainer:
    shape = shape_for_budget(args.params, tok.get_vocab_size(), args.seq_len)
    settings = TrainSettings(
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        total_steps=args.steps,
        lr=1e-3,
        seed=0,
        checkpoints=1,
        device=args.device,
    )
    return LMTrainer(out, tokens, tok_path, shape, lm_data.eot_id(tok), settings)


def run_trainer(trainer: LMTrainer) -> float:
    """Seconds for all steps (from a fresh model; the final checkpoint and state included)."""
    trainer.step = 0
    trainer.setup()
    sync(trainer.device)
    t0 = time.perf_counter()
    for _ in trainer.run():
        pass
    sync(trainer.device)
    return time.perf_counter() - t0


def run_bare(trainer: LMTrainer) -> float:
    """Seconds for the same steps in a bare loop (see the module doc)."""
    import torch
    from transformers import get_cosine_schedule_with_warmup

    s = trainer.settings
    device = trainer.device
    model = build_model(trainer.shape, trainer.eos_id, s.seed).to(device)
    model.train()
    opt = make_optimizer(model, s)
    sched = get_cosine_schedule_with_warmup(opt, s.warmup_steps, s.total_steps)
    batches = [trainer.batch(i) for i in range(s.total_steps)]
    cuda = device.startswith("cuda")
    sync(device)
    t0 = time.perf_counter()
    for batch in batches:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            loss = lm_loss(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
    loss.item()
    sync(device)
    return time.perf_counter() - t0


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def bench_train(
    params: int = 2_000_000,
    steps: int = 30,
    seq_len: int = 128,
    batch_size: int = 16,
    tokenizer: str = "train:4096",
    device: str = "auto",
    repeat: int = 2,
) -> dict:
    args = argparse.Namespace(
        params=params, steps=steps, seq_len=seq_len, batch_size=batch_size, device=device
    )
    need = steps * batch_size * seq_len + 1
    with tempfile.TemporaryDirectory(prefix="betr-bench-train-") as tmp:
        out = Path(tmp)
        texts = load_texts(8 * need)
        tok, tok_path = lm_data.prepare_tokenizer(out, tokenizer, lambda: iter(texts), need)
        tokens, _meta = lm_data.prepare_tokens(out, tok, lambda: iter(texts), need, {})
        trainer = make_trainer(out, args, tok, tok_path, tokens)
        trainer.setup()  # the device and its token array, for the baseline's batches
        t_trainer, t_bare = [], []
        for _ in range(repeat):
            t_bare.append(run_bare(trainer))
            t_trainer.append(run_trainer(trainer))
        n_tokens = steps * batch_size * seq_len
        best_t, best_b = min(t_trainer), min(t_bare)
        return {
            "device": trainer.device,
            "threads": _threads(),
            "params": trainer.shape.params,
            "shape": [trainer.shape.hidden, trainer.shape.layers, trainer.shape.heads],
            "vocab": trainer.shape.vocab,
            "steps": steps,
            "tokens": n_tokens,
            "trainer_tokens_per_s": round(n_tokens / best_t, 1),
            "bare_tokens_per_s": round(n_tokens / best_b, 1),
            "ratio": round(best_b / best_t, 3),
            "trainer_s": [round(t, 3) for t in t_trainer],
            "bare_s": [round(t, 3) for t in t_bare],
        }


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="2M")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--tokenizer", default="train:4096")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    r = bench_train(
        parse_count(a.params), a.steps, a.seq_len, a.batch_size, a.tokenizer, a.device, a.repeat
    )
    if a.json:
        print(json.dumps(r))
        return
    print(
        f"{r['params']:,} params (hidden {r['shape'][0]}, {r['shape'][1]} layers, vocab "
        f"{r['vocab']}), {r['steps']} steps of {a.batch_size}x{a.seq_len} on {r['device']} "
        f"({r['threads']} threads)"
    )
    print(f"  trainer s: {r['trainer_s']} | bare s: {r['bare_s']}")
    print(
        f"trainer {r['trainer_tokens_per_s']:,.0f} tokens/s | bare loop "
        f"{r['bare_tokens_per_s']:,.0f} tokens/s | ratio {r['ratio']:.2f}x (goal >= 0.9x)"
    )


if __name__ == "__main__":
    main()
