"""Per-token negative log-likelihood of target tokens under a proxy causal LM (METHODS 2.3),
and the multiple-choice log-likelihoods built on it (METHODS 5).

`ProxyNLL({"context_ids": [...], "target_ids": [...]})` adds "nll": per item a float64 array,
NLL_j = -ln p(target_j | context, target_<j), one per target token (empty target: empty array).

How it runs:
- Batching: every item becomes one window (or a few, see below); windows are sorted by length
  (longest first) so each batch of `batch_size` pads little, right-padded with an attention
  mask (padded positions are never scored), and the results are put back in item order.
- Dtype: the model's own (load_causal_lm: bfloat16 on a GPU, float32 on CPU).
- Log-softmax in chunks: the base model gives the final hidden states; the output layer is
  applied only at the positions that predict a target token, `chunk_positions` of them at a
  time, and logsumexp is taken in float32. B x T x V logits never exist at once.
- Longer than the model's max_position_embeddings (L): when the target fits with at least one
  context token, the target stays whole and the context is cut from the left to fit. When the
  target alone does not fit, it is scored in consecutive pieces of L // 2 tokens, each piece in
  a window of up to L tokens ending at its last token, so every target token sees at least
  L - L // 2 preceding tokens (the usual strided-perplexity scheme). `plan_windows` is the rule.
- The context must hold at least one token (the first target token needs one to condition on);
  use `encode_context`, which keeps the tokenizer's leading special tokens (a BOS) and drops
  trailing ones (an EOS), so a context is what the model saw before the target in training.

Multiple choice (`mc_logliks`): the context is encoded with `encode_context` under a BOS
convention (`BOS_MODES`); each choice is scored as the continuation " " + choice (no space added
when the choice starts with whitespace or the context ends with whitespace: `mc_continuation`),
tokenized alone without special tokens (the lm-eval-harness convention). Returns per choice
(sum of log-likelihoods, token count).

BOS conventions of a context: `auto` keeps the leading special tokens the tokenizer.json's
post-processor adds (a BOS for Llama-style tokenizers, nothing for GPT-NeoX); `always` puts
exactly one BOS (config.json's bos_token_id) before the text's own tokens; `never` scores after
the text's own tokens only. lm-evaluation-harness follows the tokenizer unless given
`add_bos_token`, and with transformers 5 a bare tokenizer.json's BOS is not added: `never` (or
`always` for add_bos_token=True) reproduces it where `auto` differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.ops import Batch, Resources, device_resources

BOS_MODES = ("auto", "always", "never")
LOGIT_BUDGET = 1 << 25  # logits (positions x vocabulary) computed at once: 128 MB in float32
MAX_POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length")


def plan_windows(
    n_context: int, n_target: int, max_positions: int | None
) -> list[tuple[int, int, int]]:
    """Windows over S = context + target as (start, end, score_from): the model reads
    S[start:end] and scores S[score_from:end] (score_from > start). Pure; see the module doc."""
    if n_target == 0:
        return []
    if n_context < 1:
        raise ValueError("the context must hold at least one token (e.g. a BOS) to score a target")
    total = n_context + n_target
    if max_positions is None or total <= max_positions:
        return [(0, total, n_context)]
    if max_positions < 2:
        raise ValueError(f"max_positions must be at least 2, got {max_positions}")
    if n_target <= max_positions - 1:
        return [(total - max_positions, total, n_context)]
    stride = max_positions // 2
    windows = []
    for a in range(n_context, total, stride):
        b = min(a + stride, total)
        windows.append((max(0, b - max_positions), b, a))
    return windows


def mc_continuation(context: str, choice: str) -> str:
    """The text scored for a choice: " " + choice, unless either side already has the space."""
    if choice[:1].isspace() or context[-1:].isspace():
        return choice
    return " " + choice


class ProxyNLL:
    """`setup()` loads the model (engine.ops.hf_load.load_causal_lm); after it: `loaded`
    (LoadedLM), `max_positions` (int or None), `vocab_size`."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        chunk_positions: int | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model_path = model_path
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self._chunk_positions = chunk_positions
        self.loaded: Any = None
        self.max_positions: int | None = None
        self.vocab_size = 0
        self._base: Any = None
        self._head: Any = None
        self._softcap: float | None = None
        self._logit_scale: float | None = None
        self._pad_id = 0

    @property
    def resources(self) -> Resources:
        return device_resources(self.device)

    # -- setup ----------------------------------------------------------------------------------
    def setup(self) -> None:
        from engine.ops.hf_load import load_causal_lm

        if self.loaded is not None:
            return
        self.loaded = load_causal_lm(self.model_path, device=self.device, dtype=self.dtype)
        model = self.loaded.model
        cfg = model.config
        for key in MAX_POSITION_KEYS:
            value = getattr(cfg, key, None)
            if isinstance(value, int) and value > 0:
                self.max_positions = value
                break
        self._head = model.get_output_embeddings()
        base = model.base_model
        # a model without a separate base (or head) is run whole: full logits, still chunked
        self._base = base if base is not model and self._head is not None else None
        self.vocab_size = int(getattr(cfg, "vocab_size", 0) or 0)
        self._softcap = getattr(cfg, "final_logit_softcapping", None) or None
        scale = getattr(cfg, "logit_scale", None)
        self._logit_scale = float(scale) if isinstance(scale, (int, float)) else None
        self._pad_id = next(
            (i for i in (self.loaded.eos_id, self.loaded.bos_id, 0) if i is not None), 0
        )

    @property
    def chunk_positions(self) -> int:
        if self._chunk_positions is not None:
            return max(1, self._chunk_positions)
        return max(64, LOGIT_BUDGET // max(1, self.vocab_size))

    # -- tokenization -----------------------------------------------------------------------------
    def encode(
        self, text: str, *, add_special_tokens: bool
    ) -> tuple[list[int], list[tuple[int, int]]]:
        """Token ids and character offsets [start, end) into `text` (special tokens: (0, 0))."""
        self.setup()
        enc = self.loaded.tokenizer.encode(text, add_special_tokens=add_special_tokens)
        return list(enc.ids), [tuple(o) for o in enc.offsets]

    def encode_context(self, text: str, *, bos: str = "auto") -> list[int]:
        """Ids of a context under a BOS convention (module doc): `auto` keeps the leading
        special tokens the tokenizer adds (a BOS), without trailing ones (an EOS would end the
        text before the target); `always` is the model's BOS then the text's tokens; `never`
        the text's tokens alone."""
        if bos not in BOS_MODES:
            raise ValueError(f"bos must be one of {', '.join(BOS_MODES)}, got {bos!r}")
        plain, _ = self.encode(text, add_special_tokens=False)
        if bos == "never":
            return plain
        if bos == "always":
            if self.loaded.bos_id is None:
                raise ValueError("the model's config.json has no bos_token_id")
            return [self.loaded.bos_id, *plain]
        with_special, _ = self.encode(text, add_special_tokens=True)
        n = len(plain)
        if n == 0:
            return with_special[:1]  # the BOS (or the only special token) of an empty text
        for start in range(len(with_special) - n + 1):
            if with_special[start : start + n] == plain:
                return with_special[: start + n]
        return with_special

    def leading_special_ids(self, text: str) -> list[int]:
        """The special tokens the tokenizer puts before `text` (a BOS; [] for GPT-NeoX)."""
        ctx = self.encode_context(text)
        plain, _ = self.encode(text, add_special_tokens=False)
        return ctx[: len(ctx) - len(plain)] if plain else ctx

    # -- scoring ----------------------------------------------------------------------------------
    def __call__(self, batch: Batch) -> Batch:
        self.setup()
        contexts, targets = batch["context_ids"], batch["target_ids"]
        if len(contexts) != len(targets):
            raise ValueError("context_ids and target_ids differ in length")
        segments: list[tuple[int, list[int], int]] = []  # (item, window ids, score_from)
        for item, (ctx, tgt) in enumerate(zip(contexts, targets, strict=True)):
            seq = [int(t) for t in ctx] + [int(t) for t in tgt]
            for start, end, score_from in plan_windows(len(ctx), len(tgt), self.max_positions):
                segments.append((item, seq[start:end], score_from - start))
        results: list[np.ndarray | None] = [None] * len(segments)
        order = sorted(range(len(segments)), key=lambda s: -len(segments[s][1]))
        for at in range(0, len(order), self.batch_size):
            group = order[at : at + self.batch_size]
            for s, nll in zip(group, self._forward([segments[s] for s in group]), strict=True):
                results[s] = nll
        pieces: list[list[np.ndarray]] = [[] for _ in contexts]
        for (item, _ids, _sf), nll in zip(segments, results, strict=True):
            pieces[item].append(nll)
        out = dict(batch)
        out["nll"] = [np.concatenate(p) if p else np.zeros(0, dtype=np.float64) for p in pieces]
        return out

    def _forward(self, group: list[tuple[int, list[int], int]]) -> list[np.ndarray]:
        """NLL of the scored tokens of each window in `group` (one padded forward pass)."""
        import torch

        device = self.loaded.device
        width = max(len(ids) for _, ids, _ in group)
        input_ids = np.full((len(group), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(group), width), dtype=np.int64)
        rows, cols, counts = [], [], []
        for r, (_item, ids, score_from) in enumerate(group):
            input_ids[r, : len(ids)] = ids
            mask[r, : len(ids)] = 1
            cols.append(np.arange(score_from - 1, len(ids) - 1))
            rows.append(np.full(len(ids) - score_from, r))
            counts.append(len(ids) - score_from)
        row_idx = torch.from_numpy(np.concatenate(rows)).to(device)
        col_idx = torch.from_numpy(np.concatenate(cols)).to(device)
        ids_t = torch.from_numpy(input_ids).to(device)
        mask_t = torch.from_numpy(mask).to(device)
        targets = ids_t[row_idx, col_idx + 1]
        with torch.inference_mode():
            if self._base is not None:
                hidden = self._base(
                    input_ids=ids_t, attention_mask=mask_t, use_cache=False
                ).last_hidden_state
                picked = hidden[row_idx, col_idx]
                del hidden
            else:
                picked = None
                logits_all = self.loaded.model(
                    input_ids=ids_t, attention_mask=mask_t, use_cache=False
                ).logits
            nll = torch.empty(len(targets), dtype=torch.float32, device=device)
            step = self.chunk_positions
            for s in range(0, len(targets), step):
                e = min(s + step, len(targets))
                if picked is not None:
                    logits = self._logits(self._head(picked[s:e]))
                else:
                    logits = logits_all[row_idx[s:e], col_idx[s:e]].float()
                lse = torch.logsumexp(logits, dim=-1)
                nll[s:e] = lse - logits.gather(1, targets[s:e, None]).squeeze(1)
        flat = nll.double().cpu().numpy()
        return np.split(flat, np.cumsum(counts)[:-1])

    def _logits(self, raw: Any) -> Any:
        """float32 logits as the model's own forward would give them (logit scale, softcap)."""
        import torch

        logits = raw.float()
        if self._logit_scale is not None:
            logits = logits * self._logit_scale
        if self._softcap is not None:
            logits = torch.tanh(logits / self._softcap) * self._softcap
        return logits

    # -- multiple choice --------------------------------------------------------------------------
    def mc_logliks(
        self,
        context_texts: Sequence[str],
        choice_lists: Sequence[Sequence[str]],
        *,
        bos: str = "auto",
    ) -> list[list[tuple[float, int]]]:
        """Per item, per choice: (sum of ln p over the continuation's tokens, its token count),
        the context encoded under the BOS convention `bos`."""
        if len(context_texts) != len(choice_lists):
            raise ValueError("context_texts and choice_lists differ in length")
        self.setup()
        ctx_ids, tgt_ids = [], []
        for context, choices in zip(context_texts, choice_lists, strict=True):
            ids = self.encode_context(context, bos=bos)
            for choice in choices:
                ctx_ids.append(ids)
                tgt_ids.append(
                    self.encode(mc_continuation(context, choice), add_special_tokens=False)[0]
                )
        nll = self({"context_ids": ctx_ids, "target_ids": tgt_ids})["nll"]
        out, at = [], 0
        for choices in choice_lists:
            out.append([(-float(np.sum(n)), len(n)) for n in nll[at : at + len(choices)]])
            at += len(choices)
        return out
