"""A proxy model directory: a local Hugging Face causal LM (config.json + safetensors weights +
a fast tokenizer's tokenizer.json). Checked without importing torch; never a pickle.

`check_model_dir` names what is missing and the fix; `model_sha256` fingerprints the files that
decide the model's outputs (config, weights, tokenizer), so a cached score says exactly which
model made it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError, UsageError

PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.bin")


@dataclass(frozen=True)
class ModelDir:
    path: Path
    config: dict
    weight_files: tuple[Path, ...]
    tokenizer_file: Path

    @property
    def model_type(self) -> str:
        return str(self.config.get("model_type", "?"))

    @property
    def n_params_estimate(self) -> int | None:
        """Parameters from the safetensors headers (exact, without loading the weights)."""
        total = 0
        for f in self.weight_files:
            total += sum(
                _numel(v["shape"]) for k, v in _safetensors_header(f).items() if k != "__metadata__"
            )
        return total or None


def check_model_dir(path: str | Path) -> ModelDir:
    """The directory's parts, or an error naming what is missing and the fix."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise UsageError(
            f"{root} is not a directory",
            fix="give the directory of a Hugging Face causal LM (config.json, *.safetensors, "
            "tokenizer.json)",
        )
    root = root.resolve()
    config_path = root / "config.json"
    if not config_path.is_file():
        raise InputError(
            "no config.json: not a Hugging Face model directory",
            file=str(root),
            fix="save the model with model.save_pretrained(DIR) (it writes config.json)",
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read it as JSON: {exc}", file=str(config_path)) from None
    if not isinstance(config, dict):
        raise InputError("must be a JSON object", file=str(config_path))
    weights = tuple(sorted(root.glob("*.safetensors")))
    if not weights:
        pickled = [name for name in PICKLE_WEIGHTS if (root / name).exists()]
        why = (
            f"only pickled weights ({', '.join(pickled)}), which betr never loads: it reads "
            "*.safetensors weights only"
            if pickled
            else "no *.safetensors weights"
        )
        raise InputError(
            why,
            file=str(root),
            fix="convert: AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(DIR, "
            "safe_serialization=True)",
        )
    tok = root / "tokenizer.json"
    if not tok.is_file():
        raise InputError(
            "no tokenizer.json: rBridge needs a fast tokenizer, which reports character "
            "offsets for every token",
            file=str(root),
            fix="save a fast tokenizer there: AutoTokenizer.from_pretrained(SRC, use_fast=True)"
            ".save_pretrained(DIR)",
        )
    return ModelDir(path=root, config=config, weight_files=weights, tokenizer_file=tok)


def model_sha256(model: ModelDir) -> str:
    """sha256 over config.json, the weight files and tokenizer.json (names and bytes)."""
    h = hashlib.sha256()
    for f in (model.path / "config.json", *model.weight_files, model.tokenizer_file):
        h.update(f.name.encode() + b"\0")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _safetensors_header(path: Path) -> dict:
    with path.open("rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        if n <= 0 or n > 100_000_000:
            raise InputError("not a safetensors file (bad header length)", file=str(path))
        try:
            return json.loads(fh.read(n))
        except ValueError:
            raise InputError("not a safetensors file (bad header)", file=str(path)) from None


def _numel(shape: list[int]) -> int:
    out = 1
    for s in shape:
        out *= int(s)
    return out
