"""Loading a local Hugging Face causal LM and its fast tokenizer (never from the hub, never a
pickle): what the proxy-scoring, multiple-choice, generation and teacher-forcing operators share.

`verify_causal_lm` checks that a directory is what it claims: a causal LM architecture
transformers knows without remote code (no `auto_map`; a BERT-style encoder only with
is_decoder true), weights that load with none missing, none unexpected and every shape the
config's (transformers' own loading report, so its key renamings and tied weights count), and
a tokenizer that loads, gives character offsets and whose ids fit the model's embeddings.
`load_causal_lm` refuses missing, unexpected or mismatched weights too, so a model registered
before these checks never scores from random weights.

Dtype: bfloat16 on a GPU that supports it, float32 on CPU (bf16 matmuls are slow on most CPUs
and would change the numbers the tests compare against).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.rbridge.proxy_dir import ModelDir, check_model_dir

PROBE_TEXT = "Question: 2 + 2?\nAnswer: 4, since 2 + 2 = 4."


@dataclass
class LoadedLM:
    model: Any  # transformers PreTrainedModel, eval mode, on `device`
    tokenizer: Any  # tokenizers.Tokenizer (offsets in characters of the Python str)
    device: str
    dtype: str
    model_dir: ModelDir
    bos_id: int | None
    eos_id: int | None


def choose_dtype(device: str, preference: str = "auto") -> str:
    if preference != "auto":
        return preference
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float32"


def load_tokenizer_file(path: str | Path) -> Any:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path))


def load_causal_lm(path: str | Path, *, device: str = "auto", dtype: str = "auto") -> LoadedLM:
    """The model on `device` (eval mode) and its tokenizer. Weights that do not fit the config
    (missing, unexpected or differently shaped tensors, a file transformers cannot read) are
    an InputError: transformers would initialise missing weights at random and score with
    them. dtype "stored" keeps the checkpoint's own dtype (what `verify_causal_lm` loads in)."""
    from engine.device import detect_device

    model_dir = check_model_dir(path)
    device = detect_device(device)
    dtype = dtype if dtype == "stored" else choose_dtype(device, dtype)
    model = _from_pretrained(model_dir, dtype)
    model.to(device)
    model.eval()
    tokenizer = load_tokenizer_file(model_dir.tokenizer_file)
    cfg = model_dir.config
    return LoadedLM(
        model=model,
        tokenizer=tokenizer,
        device=device,
        dtype=str(model.dtype).removeprefix("torch.") if dtype == "stored" else dtype,
        model_dir=model_dir,
        bos_id=_int_or_none(cfg.get("bos_token_id")),
        eos_id=_int_or_none(cfg.get("eos_token_id")),
    )


def _from_pretrained(model_dir: ModelDir, dtype: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # job logs get progress lines of their own
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # what it would warn about is refused below instead
    try:
        model, info = AutoModelForCausalLM.from_pretrained(
            str(model_dir.path),
            local_files_only=True,
            use_safetensors=True,
            trust_remote_code=False,
            dtype="auto" if dtype == "stored" else getattr(torch, dtype),
            output_loading_info=True,
            ignore_mismatched_sizes=True,  # reported in the loading info, refused below
        )
    except (OSError, ValueError, RuntimeError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(
            f"transformers cannot load this model: {type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}",
            file=str(model_dir.path),
            fix="check that config.json and the weights belong together (save_pretrained(DIR))",
        ) from None
    finally:
        hf_logging.set_verbosity(verbosity)
    problems = []
    for key, what in (
        ("missing_keys", "missing (transformers would initialise them at random)"),
        ("unexpected_keys", "not the model's"),
        ("mismatched_keys", "of another shape than the config makes them"),
    ):
        keys = sorted(_describe_key(k) for k in info.get(key) or ())
        if keys:
            problems.append(f"{len(keys)} weight(s) {what}, e.g. {keys[0]}")
    if info.get("error_msgs"):
        problems.append(str(info["error_msgs"][0])[:300])
    if problems:
        raise InputError(
            "the weights do not match the config: " + "; ".join(problems),
            file=str(model_dir.path),
            fix="save the model and its config together with save_pretrained(DIR)",
        )
    return model


def _describe_key(key: Any) -> str:
    """A loading-info key: a name, or (name, shape in the file, shape of the model)."""
    if isinstance(key, tuple) and len(key) == 3:
        name, found, wanted = key
        return f"{name} ({list(found)} in the file, {list(wanted)} by the config)"
    return str(key)


def verify_causal_lm(path: str | Path, *, load: bool = True) -> ModelDir:
    """The checked ModelDir, or an InputError naming the file, the field and the reason
    (module doc). Loads the model once on the CPU in its stored dtype, then drops it; with
    load=False only the config and the tokenizer are checked (a frontier model that its job
    loads, strictly, anyway)."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    model_dir = check_model_dir(path)
    cfg, where = model_dir.config, str(model_dir.path / "config.json")
    if "auto_map" in cfg:
        raise InputError(
            "auto_map names custom model code, which betr never runs (no remote code)",
            file=where,
            field="auto_map",
            fix="use a model whose architecture transformers ships (GPT-NeoX, Llama, ...)",
        )
    model_type = cfg.get("model_type")
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise InputError(
            f"'{model_type}' is not a causal LM architecture transformers knows",
            file=where,
            field="model_type",
            fix="a proxy must be a causal (decoder) LM, e.g. gpt_neox, llama, qwen2, gpt2",
        )
    causal = set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())
    archs = cfg.get("architectures")
    if isinstance(archs, list) and archs and not any(a in causal for a in archs):
        raise InputError(
            f"the architecture {', '.join(map(str, archs))} is not a causal LM",
            file=where,
            field="architectures",
            fix=f"save it as its causal LM class ({MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[model_type]})",
        )
    if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES and cfg.get("is_decoder") is not True:
        raise InputError(
            f"a {model_type} model is an encoder (its attention sees the whole text) unless "
            "is_decoder is true",
            file=where,
            field="is_decoder",
            fix="use a causal (decoder) LM as the proxy",
        )
    tok = _check_tokenizer(model_dir)
    if not load:
        return model_dir
    loaded = load_causal_lm(model_dir.path, device="cpu", dtype="stored")
    rows = loaded.model.get_input_embeddings().weight.shape[0]
    size = tok.get_vocab_size(with_added_tokens=True)
    if size > rows:
        raise InputError(
            f"the tokenizer has {size} entries but the model only {rows} embedding rows: "
            "its ids would index past the embeddings",
            file=str(model_dir.tokenizer_file),
            fix="use the tokenizer the model was trained with",
        )
    return model_dir


def _check_tokenizer(model_dir: ModelDir) -> Any:
    """The tokenizer, which must load and give character offsets."""
    where = str(model_dir.tokenizer_file)
    try:
        tok = load_tokenizer_file(model_dir.tokenizer_file)
        enc = tok.encode(PROBE_TEXT, add_special_tokens=False)
    except Exception as exc:  # tokenizers raises plain Exceptions for a bad file
        raise InputError(
            f"the tokenizer does not load: {str(exc).splitlines()[0][:200] if str(exc) else exc!r}",
            file=where,
            fix="save a fast tokenizer: AutoTokenizer.from_pretrained(SRC, "
            "use_fast=True).save_pretrained(DIR)",
        ) from None
    if not enc.ids or not any(e > s for s, e in enc.offsets):
        raise InputError(
            "the tokenizer gives no character offsets (rBridge weights tokens by the letters "
            "they cover)",
            file=where,
            fix="use a fast tokenizer's tokenizer.json",
        )
    return tok


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
