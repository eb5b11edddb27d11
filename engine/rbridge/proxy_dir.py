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
            total += sum(_numel(shape) for shape, _ in safetensors_tensors(f).values())
        return total or None


def check_model_dir(path: str | Path) -> ModelDir:
    """The directory's parts, or an error naming what is missing and the fix. The weights are
    what transformers loads: `model.safetensors`, or the shards `model.safetensors.index.json`
    lists; any other *.safetensors file is refused (it would be fingerprinted and counted but
    never loaded). Every weight file's header must describe the bytes the file holds (a
    truncated file is refused here, not half-loaded later)."""
    root = Path(path).expanduser()
    try:
        is_dir = root.is_dir()
        root = root.resolve(strict=True) if is_dir else root
    except (OSError, RuntimeError) as exc:  # a symlink loop, a permission
        raise InputError(f"cannot open the directory: {exc}", file=str(root)) from None
    if not is_dir:
        raise UsageError(
            f"{root} is not a directory",
            fix="give the directory of a Hugging Face causal LM (config.json, *.safetensors, "
            "tokenizer.json)",
        )
    config_path = root / "config.json"
    if not _is_file(config_path):
        raise InputError(
            "no config.json: not a Hugging Face model directory",
            file=str(root),
            fix="save the model with model.save_pretrained(DIR) (it writes config.json)",
        )
    config = _read_json(config_path)
    if not isinstance(config, dict):
        raise InputError("must be a JSON object", file=str(config_path))
    weights = _weight_files(root)
    tok = root / "tokenizer.json"
    if not _is_file(tok):
        raise InputError(
            "no tokenizer.json: rBridge needs a fast tokenizer, which reports character "
            "offsets for every token",
            file=str(root),
            fix="save a fast tokenizer there: AutoTokenizer.from_pretrained(SRC, use_fast=True)"
            ".save_pretrained(DIR)",
        )
    for f in weights:
        check_safetensors(f)
    return ModelDir(path=root, config=config, weight_files=weights, tokenizer_file=tok)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"cannot read it as JSON: {exc}", file=str(path)) from None


def _weight_files(root: Path) -> tuple[Path, ...]:
    """model.safetensors, or the shards of model.safetensors.index.json (module doc)."""
    try:
        present = sorted(p for p in root.glob("*.safetensors"))
    except OSError as exc:
        raise InputError(f"cannot list the directory: {exc}", file=str(root)) from None
    index = root / "model.safetensors.index.json"
    if _is_file(index):
        data = _read_json(index)
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise InputError("no 'weight_map' object", file=str(index), field="weight_map")
        names = sorted({str(v) for v in weight_map.values()})
        wanted = [root / n for n in names]
        for w in wanted:
            if "/" in w.name or w.parent != root or not _is_file(w):
                raise InputError(
                    f"lists the shard '{w.name}', which is not in the directory",
                    file=str(index),
                    field="weight_map",
                    fix="copy every shard of the model into the directory",
                )
    elif (root / "model.safetensors") in present:
        wanted = [root / "model.safetensors"]
    elif present:
        raise InputError(
            f"no model.safetensors: transformers loads model.safetensors (or the shards "
            f"model.safetensors.index.json lists), not {', '.join(p.name for p in present[:3])}",
            file=str(root),
            fix="rename the weights to model.safetensors, or save the model again with "
            "save_pretrained(DIR)",
        )
    else:
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
    stray = [p for p in present if p not in wanted]
    if stray:
        raise InputError(
            f"{stray[0].name} is not part of the model (transformers would not load it, but "
            "it would count in the model's fingerprint)",
            file=str(root),
            fix=f"move {stray[0].name} out of the model directory",
        )
    return tuple(wanted)


def model_sha256(model: ModelDir) -> str:
    """sha256 over config.json, the weight files and tokenizer.json (names and bytes)."""
    h = hashlib.sha256()
    for f in (model.path / "config.json", *model.weight_files, model.tokenizer_file):
        h.update(f.name.encode() + b"\0")
        try:
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        except OSError as exc:
            raise InputError(f"cannot read it: {exc}", file=str(f)) from None
    return h.hexdigest()


DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U64": 8,
    "U32": 4,
    "U16": 2,
    "U8": 1,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
}


def _safetensors_header(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if n <= 0 or n > 100_000_000:
                raise InputError("not a safetensors file (bad header length)", file=str(path))
            header = json.loads(fh.read(n))
    except OSError as exc:
        raise InputError(f"cannot read it: {exc}", file=str(path)) from None
    except (ValueError, RecursionError):
        raise InputError("not a safetensors file (bad header)", file=str(path)) from None
    if not isinstance(header, dict):
        raise InputError("not a safetensors file (bad header)", file=str(path))
    return header


def safetensors_tensors(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """{name: (shape, dtype)} of a safetensors file, from its header (nothing else read)."""
    out = {}
    for name, info in _safetensors_header(path).items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or not isinstance(info.get("shape"), list):
            raise InputError(f"tensor '{name}' has no shape in the header", file=str(path))
        out[name] = (tuple(int(x) for x in info["shape"]), str(info.get("dtype")))
    return out


def check_safetensors(path: Path) -> None:
    """The header's tensors tile the data that follows it exactly (a truncated or padded
    file, or a tensor whose byte range does not fit its dtype and shape, is an InputError)."""
    header = _safetensors_header(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
    except OSError as exc:
        raise InputError(f"cannot read it: {exc}", file=str(path)) from None
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            start, stop = (int(x) for x in info["data_offsets"])
            want = _numel(info["shape"]) * DTYPE_BYTES[info["dtype"]]
        except (KeyError, TypeError, ValueError):
            raise InputError(
                f"tensor '{name}' has no valid dtype, shape and data_offsets in the header",
                file=str(path),
            ) from None
        if stop - start != want or start < 0:
            raise InputError(
                f"tensor '{name}' ({info['dtype']} {info['shape']}) is given {stop - start} "
                f"bytes, not {want}",
                file=str(path),
            )
        end = max(end, stop)
    if 8 + n + end != size:
        raise InputError(
            f"the file holds {size} bytes but its header describes {8 + n + end}: "
            + ("truncated" if size < 8 + n + end else "extra bytes at the end"),
            file=str(path),
            fix="copy or save the model again",
        )


def _numel(shape: list[int]) -> int:
    out = 1
    for s in shape:
        out *= int(s)
    return out
