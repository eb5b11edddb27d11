"""Loading a local Hugging Face causal LM and its fast tokenizer (never from the hub, never a
pickle): what the proxy-scoring, multiple-choice, generation and teacher-forcing operators share.

Dtype: bfloat16 on a GPU that supports it, float32 on CPU (bf16 matmuls are slow on most CPUs
and would change the numbers the tests compare against).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.rbridge.proxy_dir import ModelDir, check_model_dir


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
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    from engine.device import detect_device

    hf_logging.disable_progress_bar()  # job logs get progress lines of their own

    model_dir = check_model_dir(path)
    device = detect_device(device)
    dtype = choose_dtype(device, dtype)
    model = AutoModelForCausalLM.from_pretrained(
        str(model_dir.path),
        local_files_only=True,
        use_safetensors=True,
        dtype=getattr(torch, dtype),
    )
    model.to(device)
    model.eval()
    tokenizer = load_tokenizer_file(model_dir.tokenizer_file)
    cfg = model_dir.config
    return LoadedLM(
        model=model,
        tokenizer=tokenizer,
        device=device,
        dtype=dtype,
        model_dir=model_dir,
        bos_id=_int_or_none(cfg.get("bos_token_id")),
        eos_id=_int_or_none(cfg.get("eos_token_id")),
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
