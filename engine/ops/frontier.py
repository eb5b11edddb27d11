"""A local causal LM as the "frontier" of rBridge (METHODS 2, point 6 and trace generation).

`TeacherForce` gives letter probabilities to a trace that has none: the trace R is scored after
the prompt, each token's p = exp(log p(token | prompt, tokens before it)), and each character of
R takes the p of the token that produced it. `Generate` writes traces greedily with the paper's
prompt, records each generated token's log-probability, parses the JSON answer and maps the
reasoning value's letters (JSON escapes decoded) to the probabilities of its tokens.

Which token owns a character (both operators, so a teacher-forced trace gets exactly what a
greedy generator would have reported): the token pieces come from incremental decoding, i.e.
piece k is the text that appears when token k is appended to the tokens before it. A multi-byte
character split over several byte tokens therefore belongs to the token that completes it, and a
leading space belongs to the token whose raw text holds it (trimmed offsets do not matter). When
the pieces do not reproduce the text (a normalizer changed it), character offsets (trimming off)
decide: the last token covering a character owns it, an uncovered one goes to the next token.

torch and transformers are imported inside methods only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.ops import Batch, Resources, device_resources
from engine.rbridge.weights import DEFAULT_PROMPT

SYSTEM_PROMPT = "You are a helpful assistant that solves {task} problems."
JSON_INSTRUCTION = (
    " Respond ONLY with a JSON object in this exact format: "
    '{"reasoning": "...", "final_answer": "..."}'
)
# The one retry after malformed JSON: greedy decoding is deterministic, so the retry changes
# the prompt instead of the seed (this sentence is appended to the user message).
RETRY_INSTRUCTION = (
    " Output that JSON object and nothing else, with every quote, backslash and line break "
    "inside its strings escaped."
)
OUTPUT_COLUMNS = (
    "text",
    "tokens",
    "logprobs",
    "reasoning",
    "final_answer",
    "letter_probs",
    "attempts",
    "error",
)
POS_CHUNK = 512  # positions per log-softmax chunk: B*T*V logits never materialise at once


# -- token pieces and character owners ----------------------------------------------------------
def token_pieces(tokenizer: Any, ids: list[int], *, skip_special_tokens: bool = False) -> list[str]:
    """The text each token adds when decoded after the tokens before it (incremental decoding
    over a short window, as text-generation servers stream). A piece is "" while a multi-byte
    character is incomplete (at most 3 tokens); the token that completes it gets the character.
    Bytes still incomplete at the end go to the last token. "".join(pieces) is the decoded text."""

    def dec(part: list[int]) -> str:
        return tokenizer.decode(part, skip_special_tokens=skip_special_tokens) if part else ""

    pieces: list[str] = []
    prefix, read = 0, 0
    for k in range(len(ids)):
        before = dec(ids[prefix:read])
        now = dec(ids[prefix : k + 1])
        if len(now) > len(before) and (not now.endswith("\ufffd") or k + 1 - read >= 4):
            pieces.append(now[len(before) :])
            prefix, read = read, k + 1
        else:
            pieces.append("")
    if read < len(ids):
        before, now = dec(ids[prefix:read]), dec(ids[prefix:])
        if len(now) > len(before):
            pieces[-1] += now[len(before) :]
    return pieces


def untrimmed_tokenizer(tokenizer: Any) -> Any:
    """A copy of the tokenizer whose byte-level post-processor keeps the whitespace inside the
    offsets (trim_offsets off): the same ids, offsets covering each token's raw text."""
    from tokenizers import Tokenizer

    data = json.loads(tokenizer.to_str())

    def untrim(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "ByteLevel" and node.get("trim_offsets"):
                node["trim_offsets"] = False
            for value in node.values():
                untrim(value)
        elif isinstance(node, list):
            for value in node:
                untrim(value)

    untrim(data.get("post_processor"))
    return Tokenizer.from_str(json.dumps(data))


def char_owners(
    tokenizer: Any, text: str, ids: list[int], offsets: list[tuple[int, int]]
) -> np.ndarray:
    """The token owning each character of `text` (module docstring); offsets untrimmed."""
    pieces = token_pieces(tokenizer, ids)
    if "".join(pieces) == text:
        return np.repeat(np.arange(len(ids), dtype=np.int64), [len(p) for p in pieces])
    owner = np.full(len(text), -1, dtype=np.int64)
    for i, (s, e) in enumerate(offsets):
        owner[s:e] = i  # later tokens win: the one completing a split character
    nxt = -1
    for c in range(len(text) - 1, -1, -1):
        if owner[c] >= 0:
            nxt = owner[c]
        elif nxt >= 0:
            owner[c] = nxt
    owner[owner < 0] = max(owner.max(initial=0), 0)  # trailing: the last token
    return owner


def max_positions(config: dict) -> int | None:
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = config.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


# -- the shared forward pass ----------------------------------------------------------------------
class _LocalLM:
    def __init__(self, model_path: str | Path, device: str, dtype: str, batch_size: int):
        self.model_path = str(model_path)
        self.device, self.dtype, self.batch_size = device, dtype, max(1, int(batch_size))
        self.loaded: Any = None
        self._base_ok = False

    def setup(self) -> None:
        if self.loaded is not None:
            return
        from engine.ops.hf_load import load_causal_lm

        self.loaded = load_causal_lm(self.model_path, device=self.device, dtype=self.dtype)
        self.max_positions = max_positions(self.loaded.model_dir.config)
        self._base_ok = self._check_base_path()

    @property
    def tokenizer(self) -> Any:
        return self.loaded.tokenizer

    @property
    def pad_id(self) -> int:
        lm = self.loaded
        return lm.eos_id if lm.eos_id is not None else (lm.bos_id or 0)

    def _check_base_path(self) -> bool:
        """Hidden states of the base model through the output embedding give the model's own
        logits for plain causal LMs (not for e.g. soft-capped logits): checked once here on a
        short input, and the full-logits path is used otherwise."""
        import torch

        model = self.loaded.model
        if getattr(model, "base_model", model) is model or model.get_output_embeddings() is None:
            return False
        ids = torch.tensor([[1, 2, 3, 4]], device=self.loaded.device) % model.config.vocab_size
        with torch.inference_mode():
            full = model(input_ids=ids).logits.float()
            hidden = model.base_model(input_ids=ids).last_hidden_state
            mine = model.get_output_embeddings()(hidden).float()
        tol = 1e-3 if self.loaded.dtype == "float32" else 2e-2
        return full.shape == mine.shape and bool(torch.allclose(full, mine, atol=tol, rtol=tol))

    def target_logprobs(self, seqs: list[list[int]], starts: list[int]) -> list[np.ndarray]:
        """log p(seq[j] | seq[:j]) for j in [start, len(seq)) of each sequence (start >= 1),
        float64, in batches of `batch_size` right-padded sequences with an attention mask."""
        out: list[np.ndarray] = [np.zeros(0)] * len(seqs)
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))  # similar lengths together
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            for i, lp in zip(
                idx,
                self._batch_logprobs([seqs[i] for i in idx], [starts[i] for i in idx]),
                strict=True,
            ):
                out[i] = lp
        return out

    def _batch_logprobs(self, seqs: list[list[int]], starts: list[int]) -> list[np.ndarray]:
        import torch

        model, dev = self.loaded.model, self.loaded.device
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        rows, cols, targets = [], [], []
        for r, (s, start) in enumerate(zip(seqs, starts, strict=True)):
            ids[r, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[r, : len(s)] = 1
            rows += [r] * (len(s) - start)
            cols += range(start - 1, len(s) - 1)
            targets += s[start:]
        ids, mask = ids.to(dev), mask.to(dev)
        flat = torch.empty(len(targets), dtype=torch.float64)
        with torch.inference_mode():
            if self._base_ok:
                states = model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
                head = model.get_output_embeddings()
            else:
                states, head = model(input_ids=ids, attention_mask=mask).logits, None
            r_t = torch.tensor(rows, dtype=torch.long, device=dev)
            c_t = torch.tensor(cols, dtype=torch.long, device=dev)
            t_t = torch.tensor(targets, dtype=torch.long, device=dev)
            for a in range(0, len(targets), POS_CHUNK):
                sl = slice(a, a + POS_CHUNK)
                x = states[r_t[sl], c_t[sl]]
                logits = (head(x) if head is not None else x).float()
                lp = torch.log_softmax(logits, dim=-1).gather(1, t_t[sl, None])[:, 0]
                flat[sl] = lp.clamp(max=0.0).double().cpu()
        cuts = np.cumsum([len(s) - start for s, start in zip(seqs, starts, strict=True)])
        return np.split(flat.numpy(), cuts[:-1])


# -- teacher forcing ------------------------------------------------------------------------------
class TeacherForce:
    """{"question": [...], "reasoning": [...]} -> adds "letter_probs" (float32 array, one p per
    character of the reasoning, or None) and "error" (None, or why the trace got no
    probabilities: e.g. longer than the model's context)."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        prompt: str = DEFAULT_PROMPT,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 4,
    ):
        self.prompt = prompt
        self.lm = _LocalLM(model_path, device, dtype, batch_size)

    @property
    def resources(self) -> Resources:
        return device_resources(self.lm.device)

    @property
    def batch_size(self) -> int:
        return self.lm.batch_size

    def setup(self) -> None:
        if self.lm.loaded is None:
            self.lm.setup()
            self._offsets_tok = untrimmed_tokenizer(self.lm.tokenizer)

    @property
    def loaded(self) -> Any:
        return self.lm.loaded

    def __call__(self, batch: Batch) -> Batch:
        tok = self.lm.tokenizer
        jobs, probs, errors = [], [None] * len(batch["reasoning"]), [None] * len(batch["reasoning"])
        for i, (q, r) in enumerate(zip(batch["question"], batch["reasoning"], strict=True)):
            prompt_ids = tok.encode(
                self.prompt.replace("{x}", q or ""), add_special_tokens=True
            ).ids
            enc = self._offsets_tok.encode(r, add_special_tokens=False)
            if not r:
                probs[i] = np.zeros(0, dtype=np.float32)
                continue
            if not prompt_ids:
                errors[i] = "empty prompt and no BOS: the first token has no context"
                continue
            total = len(prompt_ids) + len(enc.ids)
            if self.lm.max_positions is not None and total > self.lm.max_positions:
                errors[i] = (
                    f"prompt + reasoning are {total} tokens, more than the model's "
                    f"{self.lm.max_positions} positions"
                )
                continue
            jobs.append((i, prompt_ids, list(enc.ids), list(enc.offsets), r))
        lps = self.lm.target_logprobs(
            [p + ids for _, p, ids, _, _ in jobs], [len(p) for _, p, _, _, _ in jobs]
        )
        for (i, _p, ids, offsets, r), lp in zip(jobs, lps, strict=True):
            owners = char_owners(tok, r, ids, offsets)
            probs[i] = np.exp(lp)[owners].astype(np.float32)
        return {**batch, "letter_probs": probs, "error": errors}


# -- generation -----------------------------------------------------------------------------------
@dataclass
class Parsed:
    reasoning: str | None
    letter_probs: np.ndarray | None
    final_answer: str | None
    error: str | None


class Generate:
    """{"question": [...]} -> adds per example: "text" (the decoded output of the last attempt),
    "tokens" / "logprobs" (its token pieces, concatenating to text, and their log-probabilities),
    "reasoning", "final_answer", "letter_probs" (float32 per character of the reasoning),
    "attempts" (1, or 2 after a retry) and "error" (None, or the reasons both attempts failed)."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        task: str = "",
        max_new_tokens: int = 512,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 4,
    ):
        self.task = task
        self.max_new_tokens = int(max_new_tokens)
        self.lm = _LocalLM(model_path, device, dtype, batch_size)
        self._hf_tok: Any = None
        self.uses_chat_template = False

    @property
    def resources(self) -> Resources:
        return device_resources(self.lm.device)

    @property
    def batch_size(self) -> int:
        return self.lm.batch_size

    def setup(self) -> None:
        if self.lm.loaded is not None:
            return
        self.lm.setup()
        root = self.lm.loaded.model_dir.path
        cfg_path = root / "tokenizer_config.json"
        cfg = json.loads(cfg_path.read_text("utf-8")) if cfg_path.is_file() else {}
        if cfg.get("chat_template") or (root / "chat_template.jinja").is_file():
            from transformers import AutoTokenizer

            self._hf_tok = AutoTokenizer.from_pretrained(str(root), local_files_only=True)
            self.uses_chat_template = True
        eos = self.lm.loaded.model_dir.config.get("eos_token_id")
        gen_path = root / "generation_config.json"
        if gen_path.is_file():
            eos = json.loads(gen_path.read_text("utf-8")).get("eos_token_id", eos)
        eos_list = eos if isinstance(eos, list) else [eos]
        self.eos_ids = sorted(
            {e for e in eos_list if isinstance(e, int) and not isinstance(e, bool)}
        )

    @property
    def loaded(self) -> Any:
        return self.lm.loaded

    def prompt_ids(self, question: str, *, retry: bool = False) -> list[int]:
        """The paper's prompt (Appendix B) through the model's chat template when it has one,
        else "System: ...\\nUser: ...\\nAssistant: " with the tokenizer's special tokens."""
        system = SYSTEM_PROMPT.format(task=self.task or "reasoning")
        user = question + JSON_INSTRUCTION + (RETRY_INSTRUCTION if retry else "")
        tok = self.lm.tokenizer
        if self._hf_tok is None:
            text = f"System: {system}\nUser: {user}\nAssistant: "
            return list(tok.encode(text, add_special_tokens=True).ids)
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        try:
            text = self._hf_tok.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        except Exception:  # templates without a system role: the system line opens the user turn
            merged = [{"role": "user", "content": f"{system}\n\n{user}"}]
            text = self._hf_tok.apply_chat_template(
                merged, tokenize=False, add_generation_prompt=True
            )
        return list(tok.encode(text, add_special_tokens=False).ids)

    def _greedy(self, prompts: list[list[int]]) -> list[tuple[list[int], list[float], bool]]:
        """Greedy continuation of each prompt: (generated ids without the stop token, the
        log-probability of each under the model's raw logits, stopped by an EOS)."""
        import torch
        from transformers import GenerationConfig

        lm = self.lm.loaded
        out: list[tuple[list[int], list[float], bool]] = []
        for b in range(0, len(prompts), self.lm.batch_size):
            group = prompts[b : b + self.lm.batch_size]
            width = max(len(p) for p in group)
            ids = torch.tensor(
                [[self.lm.pad_id] * (width - len(p)) + p for p in group], device=lm.device
            )
            mask = torch.tensor(
                [[0] * (width - len(p)) + [1] * len(p) for p in group], device=lm.device
            )
            gc = GenerationConfig(
                do_sample=False,
                num_beams=1,
                max_new_tokens=self.max_new_tokens,
                eos_token_id=self.eos_ids or None,
                pad_token_id=self.lm.pad_id,
                output_logits=True,
                return_dict_in_generate=True,
                use_cache=True,
            )
            with torch.inference_mode():
                res = lm.model.generate(input_ids=ids, attention_mask=mask, generation_config=gc)
            new = res.sequences[:, width:].cpu()
            steps = [
                torch.log_softmax(step.float(), dim=-1)
                .gather(1, new[:, t, None].to(step.device))[:, 0]
                .cpu()
                for t, step in enumerate(res.logits)
            ]
            lp = (
                torch.stack(steps, dim=1).double().clamp(max=0.0)
                if steps
                else torch.zeros(len(group), 0)
            )
            for r in range(len(group)):
                row = new[r].tolist()
                stop = next((j for j, t in enumerate(row) if t in self.eos_ids), None)
                end = len(row) if stop is None else stop
                out.append((row[:end], lp[r, :end].tolist(), stop is not None))
        return out

    def __call__(self, batch: Batch) -> Batch:
        questions = list(batch["question"])
        n = len(questions)
        first = self._attempt(questions, retry=False)
        results = {i: (first[i], None, 1) for i in range(n)}
        bad = [i for i in range(n) if first[i][2].error is not None]
        if bad:
            second = self._attempt([questions[i] for i in bad], retry=True)
            for i, res in zip(bad, second, strict=True):
                err = None
                if res[2].error is not None:
                    err = f"attempt 1: {first[i][2].error}; attempt 2 (retry): {res[2].error}"
                results[i] = (res, err, 2)
        rows = []
        for i in range(n):
            (pieces, logprobs, parsed), err, attempts = results[i]
            ok = err is None
            rows.append(
                {
                    "text": "".join(pieces),
                    "tokens": pieces,
                    "logprobs": logprobs,
                    "reasoning": parsed.reasoning if ok else None,
                    "final_answer": parsed.final_answer if ok else None,
                    "letter_probs": parsed.letter_probs if ok else None,
                    "attempts": attempts,
                    "error": err,
                }
            )
        cols = {k: [r[k] for r in rows] for k in OUTPUT_COLUMNS}
        return {**batch, **cols}

    def _attempt(
        self, questions: list[str], *, retry: bool
    ) -> list[tuple[list[str], list[float], Parsed]]:
        outs = self._greedy([self.prompt_ids(q, retry=retry) for q in questions])
        res = []
        for ids, logprobs, stopped in outs:
            pieces = token_pieces(self.lm.tokenizer, ids, skip_special_tokens=True)
            cut = None if stopped else f" (output cut at max_new_tokens={self.max_new_tokens})"
            res.append((pieces, logprobs, parse_answer(pieces, logprobs, cut_note=cut)))
        return res


def find_json_answer(text: str) -> tuple[int, int, dict | None, str | None]:
    """(start, end, object, None) of the first JSON object in `text` with a string
    "reasoning", or (0, 0, None, reason)."""
    decoder = json.JSONDecoder()
    first_error = None
    pos = text.find("{")
    while pos >= 0:
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            first_error = first_error or f"invalid JSON at character {exc.pos}: {exc.msg}"
        else:
            if isinstance(obj, dict) and isinstance(obj.get("reasoning"), str):
                return pos, end, obj, None
            first_error = first_error or "the JSON object has no string 'reasoning'"
        pos = text.find("{", pos + 1)
    if not text.strip():
        return 0, 0, None, "empty output"
    return 0, 0, None, first_error or "no JSON object in the output"


def parse_answer(
    pieces: list[str], logprobs: list[float], *, cut_note: str | None = None
) -> Parsed:
    """The reasoning, its letter probabilities and the final answer of one generated output,
    or the reason it cannot be used."""
    text = "".join(pieces)
    start, end, obj, err = find_json_answer(text)
    if obj is None:
        return Parsed(None, None, None, err + (cut_note or ""))
    if not obj["reasoning"].strip():
        return Parsed(None, None, None, "the reasoning is empty")
    from engine.errors import InputError
    from engine.rbridge.letters import letter_probs_from_tokens, reasoning_letter_probs

    try:
        full, p = letter_probs_from_tokens(pieces, logprobs, where="generated output")
        reasoning, rp, _fa = reasoning_letter_probs(
            full[start:end], p[start:end], where="generated output"
        )
    except InputError as exc:
        return Parsed(None, None, None, f"letter probabilities: {exc.bare_message}")
    if reasoning != obj["reasoning"]:
        return Parsed(None, None, None, "the decoded reasoning does not match the JSON value")
    fa = obj.get("final_answer")
    final = fa if isinstance(fa, str) or fa is None else json.dumps(fa, ensure_ascii=False)
    return Parsed(reasoning, np.asarray(rp, dtype=np.float32), final, None)
