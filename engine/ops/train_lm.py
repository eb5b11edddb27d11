"""A tiny GPT-NeoX-style causal LM trainer: the proxies of METHODS 5, trained on one machine.

- Shape from a parameter budget (`shape_for_budget`): untied input and output embeddings
  (GPT-NeoX's default) cost 2*V*h, each layer 12*h^2 + 13*h (QKV, output, a 4h MLP, two layer
  norms, biases), the final norm 2*h. Among hidden sizes h (multiples of 32, head size 16/32/64)
  and depths 2..48 whose count lies within 10% of the budget, the one closest to h/L = 32 wins
  (ties: closer to the budget); when none is that close, the closest count. The actual count is
  reported, never the budget.
- Training: AdamW (betas 0.9/0.95, weight decay 0.1 on matrices only), linear warmup then cosine
  decay to 10% of the peak over the total steps (a pure function of the step, so there is no
  scheduler state), gradient clipping at 1.0, `torch.manual_seed(seed)` for the initial weights,
  no dropout; float32 on CPU, bfloat16 autocast over float32 weights on a GPU.
- Checkpoints (`ckpt-<tokens>`): config.json + model.safetensors + tokenizer.json (+
  training.json), loadable by `engine.ops.hf_load.load_causal_lm`.
- Resume state (`state/step-<step>`): model.safetensors, optimizer.safetensors (AdamW moments and
  step counts) and state.json (step, param groups), written to a temporary directory and renamed,
  so a killed job never leaves half a state; no pickle is ever read. The batches and the learning
  rate are pure functions of the step, so a run resumed from a state ends with exactly the loss
  of an uninterrupted one (on CPU, with the same thread count).

torch and transformers are imported inside functions (`betr` must start fast).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.ops.lm_data import BlockOrder, n_blocks, replace_dir

ASPECT = 32  # preferred hidden size per layer
FIT = 0.10  # parameter counts within 10% of the budget count as fitting
STATE_FORMAT = 1


# -- shape ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelShape:
    vocab: int
    hidden: int
    layers: int
    heads: int
    max_positions: int

    @property
    def intermediate(self) -> int:
        return 4 * self.hidden

    @property
    def params(self) -> int:
        return neox_params(self.vocab, self.hidden, self.layers)


MIN_POSITIONS = 2048


def neox_params(vocab: int, hidden: int, layers: int) -> int:
    """Parameters of GPTNeoXForCausalLM with untied embeddings and a 4h MLP."""
    h = hidden
    return 2 * vocab * h + layers * (12 * h * h + 13 * h) + 2 * h


def head_count(hidden: int) -> int:
    head = 16 if hidden <= 64 else 32 if hidden <= 256 else 64
    return hidden // head


def shape_for_budget(params: int, vocab: int, seq_len: int) -> ModelShape:
    """The model shape for a parameter budget (module doc)."""
    hidden_sizes = [h for h in range(32, 4097, 32) if h <= 256 or h % 64 == 0]
    cands = [(h, n, neox_params(vocab, h, n)) for h in hidden_sizes for n in range(2, 49)]
    fitting = [c for c in cands if abs(c[2] - params) <= FIT * params]
    if fitting:
        h, n, _ = min(
            fitting, key=lambda c: (abs(math.log(c[0] / c[1] / ASPECT)), abs(c[2] - params))
        )
    else:
        h, n, _ = min(cands, key=lambda c: (abs(c[2] - params), c[0]))
    # rotary positions learn no parameters: a proxy trained on short blocks still reads the
    # long traces rBridge scores (max_position_embeddings only sizes the rotary cache)
    return ModelShape(vocab, h, n, head_count(h), max(seq_len, MIN_POSITIONS))


def neox_config(shape: ModelShape, *, eos_id: int) -> Any:
    from transformers import GPTNeoXConfig

    return GPTNeoXConfig(
        vocab_size=shape.vocab,
        hidden_size=shape.hidden,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        intermediate_size=shape.intermediate,
        max_position_embeddings=shape.max_positions,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        tie_word_embeddings=False,
        use_cache=False,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
    )


def training_memory(shape: ModelShape, batch_size: int, seq_len: int, n_tokens: int) -> int:
    """Bytes that training `shape` needs on its device, estimated: float32 weights, gradients
    and AdamW's two moments (16 bytes per parameter); the activations kept for the backward
    pass, s*b*h*L*(34 + 5*a*s/h) bytes in 16 bits (Korthikanti et al. 2022, "Reducing
    activation recomputation"), twice that in float32; the logits with their float32 copy and
    gradient (3*b*s*V floats); and the token array on the device (int32)."""
    b, s, h, n_layers, a = batch_size, seq_len, shape.hidden, shape.layers, shape.heads
    states = 16 * shape.params
    activations = 2 * s * b * h * n_layers * (34 + 5 * a * s / h)
    logits = 3 * 4 * b * s * shape.vocab
    return int(states + activations + logits + 4 * n_tokens)


TRAINING = (
    "float32 weights, gradients and AdamW moments at 16 bytes per parameter, plus activations"
)
BUILDING = (
    "float32 weights at 4 bytes per parameter, built on the CPU before they move to the device"
)


def check_memory(need: int, have: int | None, device: str, what: str, how: str = TRAINING) -> None:
    """A UsageError with the estimate (`how` it is made) when `need` bytes do not fit in the
    `have` free on `device` (None: unknown, nothing to check)."""
    from engine.errors import UsageError
    from engine.units import format_bytes

    if have is not None and need > have:
        raise UsageError(
            f"{what} needs about {format_bytes(need)} on {device} ({how}), but "
            f"{format_bytes(have)} is free there",
            fix="train a smaller model (--params), or lower --batch-size / --seq-len",
        )


# -- settings ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainSettings:
    seq_len: int
    batch_size: int
    total_steps: int
    lr: float = 1e-3
    seed: int = 0
    checkpoints: int = 1
    warmup_frac: float = 0.05
    min_lr_frac: float = 0.1
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    device: str = "auto"
    state_every_s: float = 60.0  # a resume state at least this often (wall time)
    state_every_steps: int | None = None  # ... and every N steps when set
    log_every_s: float = 2.0
    log_every_steps: int | None = None

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.seq_len

    @property
    def warmup_steps(self) -> int:
        return max(1, round(self.warmup_frac * self.total_steps))

    def checkpoint_steps(self) -> list[int]:
        return checkpoint_steps(self.total_steps, self.checkpoints)


def steps_for_tokens(tokens: int, batch_size: int, seq_len: int) -> int:
    return max(1, math.ceil(tokens / (batch_size * seq_len)))


def checkpoint_steps(total_steps: int, k: int) -> list[int]:
    """K evenly spaced steps, the last one `total_steps` (fewer when K > total_steps)."""
    return sorted({max(1, math.ceil(total_steps * i / k)) for i in range(1, k + 1)})


def lr_at(step: int, s: TrainSettings) -> float:
    """Learning rate of update `step` (0-based): linear warmup, cosine to min_lr_frac * lr."""
    if step < s.warmup_steps:
        return s.lr * (step + 1) / s.warmup_steps
    span = max(1, s.total_steps - s.warmup_steps)
    progress = min(1.0, (step - s.warmup_steps) / span)
    return s.lr * (s.min_lr_frac + (1 - s.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * progress)))


# -- model and optimizer --------------------------------------------------------------------
def build_model(shape: ModelShape, eos_id: int, seed: int) -> Any:
    import torch
    from transformers import GPTNeoXForCausalLM

    torch.manual_seed(seed)
    return GPTNeoXForCausalLM(neox_config(shape, eos_id=eos_id))


def make_optimizer(model: Any, s: TrainSettings) -> Any:
    """AdamW with weight decay on the weight matrices only."""
    import torch

    decay, no_decay = [], []
    for _name, p in model.named_parameters():
        (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [
        {"params": decay, "weight_decay": s.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=s.lr, betas=s.betas, eps=1e-8)


def lm_loss(model: Any, batch: Any) -> Any:
    """Mean next-token cross-entropy of a (B, L + 1) batch: inputs [:, :-1], targets [:, 1:]."""
    import torch

    logits = model(input_ids=batch[:, :-1]).logits
    return torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1)
    )


# -- events -----------------------------------------------------------------------------------
@dataclass
class TrainEvent:
    kind: str  # "log" (loss so far) or "state" (a resume state, maybe a checkpoint, was saved)
    step: int  # updates done
    tokens: int  # training tokens seen
    loss: float  # mean loss over the steps since the previous event
    last_loss: float  # loss of the last step
    state_dir: Path | None = None
    checkpoint_dir: Path | None = None
    rate: float | None = None  # tokens/s since the trainer started (this attempt)
    done: bool = False


@dataclass
class LMTrainer:
    """Trains one model over a token array; `run()` yields TrainEvents (module doc)."""

    out_dir: Path
    tokens: np.ndarray
    tokenizer_file: Path
    shape: ModelShape
    eos_id: int
    settings: TrainSettings
    meta: dict[str, Any] = field(default_factory=dict)  # written into training.json
    keep_checkpoint: Callable[[Path], bool] | None = None  # True: that checkpoint is registered
    step: int = 0
    device: str = "cpu"
    model: Any = None
    optimizer: Any = None

    def __post_init__(self) -> None:
        s = self.settings
        self.order = BlockOrder(n_blocks(len(self.tokens), s.seq_len), s.seed)
        self.state_root = self.out_dir / "state"

    @property
    def tokens_done(self) -> int:
        return self.step * self.settings.tokens_per_step

    @property
    def total_tokens(self) -> int:
        return self.settings.total_steps * self.settings.tokens_per_step

    @property
    def epochs(self) -> float:
        return self.settings.total_steps * self.settings.batch_size / self.order.n

    def setup(self, state_dir: Path | None = None) -> None:
        """Build the model (seeded) and optimizer on the device; load `state_dir` if given.
        Other (older, newer or half-written) states are removed."""
        import torch
        from transformers.utils import logging as hf_logging

        from engine.device import detect_device

        hf_logging.disable_progress_bar()  # save_pretrained's shard bar would fill job logs
        self.device = detect_device(self.settings.device)
        self.model = build_model(self.shape, self.eos_id, self.settings.seed).to(self.device)
        self.model.train()
        self.optimizer = make_optimizer(self.model, self.settings)
        self.data = torch.from_numpy(self.tokens.astype(np.int32)).to(self.device)
        if state_dir is not None:
            self._load_state(Path(state_dir))
        self.prune_states(keep=state_dir)

    def batch(self, step: int) -> Any:
        import torch

        s = self.settings
        starts = self.order.blocks(step, s.batch_size) * s.seq_len
        idx = torch.from_numpy(starts[:, None] + np.arange(s.seq_len + 1)).to(self.device)
        return self.data[idx].long()

    def run(self) -> Iterator[TrainEvent]:
        import torch

        s = self.settings
        ckpts = set(s.checkpoint_steps())
        cuda = self.device.startswith("cuda")
        params = [p for p in self.model.parameters()]
        prev_det = torch.are_deterministic_algorithms_enabled()
        if not cuda:
            torch.use_deterministic_algorithms(True, warn_only=True)
        t0 = t_log = t_state = time.monotonic()
        start_tokens = self.tokens_done
        loss_sum = torch.zeros((), device=self.device)
        n_sum = 0
        try:
            while self.step < s.total_steps:
                lr = lr_at(self.step, s)
                for g in self.optimizer.param_groups:
                    g["lr"] = lr
                batch = self.batch(self.step)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                    loss = lm_loss(self.model, batch)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, s.grad_clip)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                loss_sum += loss.detach()
                n_sum += 1
                now = time.monotonic()
                done = self.step == s.total_steps
                save = (
                    self.step in ckpts
                    or done
                    or now - t_state >= s.state_every_s
                    or (s.state_every_steps is not None and self.step % s.state_every_steps == 0)
                )
                log = now - t_log >= s.log_every_s or (
                    s.log_every_steps is not None and self.step % s.log_every_steps == 0
                )
                if not (save or log):
                    continue
                mean = float(loss_sum.item()) / n_sum
                last_loss = float(loss.item())
                if not (math.isfinite(mean) and math.isfinite(last_loss)):
                    raise diverged(self.step, mean if not math.isfinite(mean) else last_loss, s)
                event = TrainEvent(
                    "state" if save else "log",
                    self.step,
                    self.tokens_done,
                    mean,
                    last_loss,
                    rate=(self.tokens_done - start_tokens) / max(now - t0, 1e-9),
                    done=done,
                )
                loss_sum.zero_()
                n_sum = 0
                if save:
                    if self.step in ckpts:
                        event.checkpoint_dir = self.save_checkpoint(event.last_loss)
                    event.state_dir = self.save_state()
                    t_state = time.monotonic()
                t_log = time.monotonic()
                yield event
        finally:
            torch.use_deterministic_algorithms(prev_det)

    # -- checkpoints and states -------------------------------------------------------------
    def checkpoint_dir(self, tokens: int) -> Path:
        return self.out_dir / f"ckpt-{tokens:012d}"

    def save_checkpoint(self, loss: float) -> Path:
        """The checkpoint of this step, written to a temporary name and renamed; one that
        `keep_checkpoint` says is registered already is left as it is (never rewritten)."""
        final = self.checkpoint_dir(self.tokens_done)
        if final.exists() and self.keep_checkpoint is not None and self.keep_checkpoint(final):
            return final
        tmp = self.out_dir / f".tmp-{final.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        self.model.save_pretrained(str(tmp))
        shutil.copyfile(self.tokenizer_file, tmp / "tokenizer.json")
        info = {
            **self.meta,
            "step": self.step,
            "tokens": self.tokens_done,
            "loss": loss,
            "params": self.shape.params,
            "settings": _jsonable(asdict(self.settings)),
        }
        (tmp / "training.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
        replace_dir(tmp, final)
        return final

    def save_state(self) -> Path:
        from safetensors.torch import save_file

        self.state_root.mkdir(parents=True, exist_ok=True)
        final = self.state_root / f"step-{self.step:09d}"
        tmp = self.state_root / f".tmp-{final.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        model_sd = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        save_file(model_sd, str(tmp / "model.safetensors"))
        opt = self.optimizer.state_dict()
        tensors = {
            f"{i}.{k}": v.detach().contiguous()
            for i, st in opt["state"].items()
            for k, v in st.items()
        }
        save_file(tensors, str(tmp / "optimizer.safetensors"))
        state = {
            "format": STATE_FORMAT,
            "step": self.step,
            "tokens": self.tokens_done,
            "param_groups": opt["param_groups"],
            "shape": asdict(self.shape),
            "settings": _jsonable(asdict(self.settings)),
        }
        (tmp / "state.json").write_text(json.dumps(state), encoding="utf-8")
        replace_dir(tmp, final)
        return final

    def _load_state(self, state_dir: Path) -> None:
        from safetensors.torch import load_file

        from engine.errors import InputError

        state = json.loads((state_dir / "state.json").read_text(encoding="utf-8"))
        if state.get("format") != STATE_FORMAT or state.get("shape") != asdict(self.shape):
            raise InputError(
                "the resume state was written for another model or by another betr",
                file=str(state_dir),
                fix="delete the output directory and train again",
            )
        self.model.load_state_dict(load_file(str(state_dir / "model.safetensors")), strict=True)
        flat = load_file(str(state_dir / "optimizer.safetensors"))
        opt_state: dict[int, dict[str, Any]] = {}
        for key, value in flat.items():
            i, _, name = key.partition(".")
            opt_state.setdefault(int(i), {})[name] = value
        groups = state["param_groups"]
        for g in groups:
            g["betas"] = tuple(g["betas"])
        self.optimizer.load_state_dict({"state": opt_state, "param_groups": groups})
        self.step = int(state["step"])

    def prune_states(self, keep: Path | None) -> None:
        """Remove every resume state (and half-written directory) but `keep`."""
        keep = Path(keep).resolve() if keep is not None else None
        for root in (self.state_root, self.out_dir):
            if not root.is_dir():
                continue
            for d in root.iterdir():
                ours = d.name.startswith(".tmp-") or (root == self.state_root)
                if d.is_dir() and ours and d.resolve() != keep:
                    shutil.rmtree(d, ignore_errors=True)


def diverged(step: int, loss: float, s: TrainSettings) -> Exception:
    """The error of a run whose loss is not finite: nothing from it is saved from this step on."""
    from engine.errors import UsageError

    return UsageError(
        f"training diverged: the loss is {loss} at step {step} (--lr {s.lr:g}); no checkpoint "
        "of this step or later is saved or registered",
        fix="train again with a lower --lr (the default is 1e-3) or a smaller --batch-size",
    )


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


# -- one call ---------------------------------------------------------------------------------
def train_lm(trainer: LMTrainer, state_dir: Path | None = None) -> dict[str, Any]:
    """Set up and run to the end (tests, benches); the job drives `run()` itself."""
    trainer.setup(state_dir)
    t0 = time.monotonic()
    start = trainer.tokens_done
    last: TrainEvent | None = None
    checkpoints = []
    for ev in trainer.run():
        last = ev
        if ev.checkpoint_dir is not None:
            checkpoints.append(
                {"step": ev.step, "tokens": ev.tokens, "path": str(ev.checkpoint_dir)}
            )
        if ev.state_dir is not None:
            trainer.prune_states(keep=ev.state_dir)
    elapsed = time.monotonic() - t0
    return {
        "final_loss": last.last_loss if last else None,
        "checkpoints": checkpoints,
        "params": trainer.shape.params,
        "tokens": trainer.tokens_done,
        "tokens_per_s": (trainer.tokens_done - start) / elapsed if elapsed > 0 else None,
    }
