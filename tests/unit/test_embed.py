"""Embeddings: the bundled model loads offline; the cache embeds each text once."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from engine.embed import (
    DEFAULT_MODEL,
    Embedder,
    MemoryEmbeddingCache,
    embed_cached,
    resolve_embedder_path,
    text_sha256,
)
from engine.errors import UsageError

TEXTS = [
    "Janet's ducks lay 16 eggs per day.",
    "The mitochondria is the powerhouse of the cell.",
    "A train leaves the station at 3 pm travelling at 60 miles per hour.\nWhen does it arrive?",
    "Photosynthesis converts light energy into chemical energy.",
    "short",
]


@pytest.fixture(scope="module")
def embedder():
    """The bundled all-MiniLM-L6-v2 on CPU, loaded with the network switched off."""

    def no_network(*args, **kwargs):
        raise OSError("network access attempted while loading the embedding model")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setattr(socket.socket, "connect", no_network)
        yield Embedder.load(None, device="cpu")


def test_default_specs_resolve_to_the_bundled_model():
    for spec in (None, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        name, path = resolve_embedder_path(spec)
        assert name == DEFAULT_MODEL
        assert (path / "model.safetensors").is_file() and (path / "modules.json").is_file()


def test_a_local_directory_resolves_to_itself(tmp_path):
    (tmp_path / "my-model").mkdir()
    (tmp_path / "my-model" / "config.json").write_text("{}")
    assert resolve_embedder_path(str(tmp_path / "my-model")) == ("my-model", tmp_path / "my-model")


def test_a_missing_model_path_explains_local_only_loading(tmp_path):
    with pytest.raises(UsageError) as info:
        resolve_embedder_path("Snowflake/snowflake-arctic-embed-l-v2.0")
    message = str(info.value)
    assert "path does not exist" in message
    assert "no hub downloads" in message and "all-MiniLM-L6-v2" in message
    assert "Snowflake/snowflake-arctic-embed-l-v2.0" in message and "GPU" in message
    with pytest.raises(UsageError, match="path does not exist"):
        Embedder.load(str(tmp_path / "nowhere"))


def test_a_directory_without_a_model_is_refused(tmp_path):
    with pytest.raises(UsageError, match="no modules.json or config.json"):
        resolve_embedder_path(str(tmp_path))


def test_bundled_model_loads_offline(embedder):
    assert embedder.dim == 384
    assert embedder.device == "cpu" and embedder.dtype == "float32"
    assert embedder.max_seq_length == 256
    assert embedder.model_id.startswith("all-MiniLM-L6-v2@") and len(embedder.model_id) == 29


def test_vectors_are_unit_norm_and_independent_of_batching(embedder):
    vecs = embedder.encode(TEXTS, batch_size=2)
    assert vecs.shape == (5, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-6)
    reversed_order = embedder.encode(TEXTS[::-1], batch_size=64)[::-1]
    one_by_one = np.stack([embedder.encode([t])[0] for t in TEXTS])
    # padding to another batch-mate changes float summation order only: equal to ~1e-7
    assert np.allclose(vecs, reversed_order, atol=1e-5)
    assert np.allclose(vecs, one_by_one, atol=1e-5)
    # related texts are closer than unrelated ones
    assert vecs[1] @ vecs[3] > vecs[1] @ vecs[4]


def test_text_sha256_is_32_raw_bytes():
    key = text_sha256("abc")  # the FIPS 180-2 test vector
    assert isinstance(key, bytes) and len(key) == 32
    assert key.hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert len(text_sha256("h\u00e9llo \ud800")) == 32  # any str, lone surrogates included


def test_second_call_embeds_nothing(embedder):
    cache = MemoryEmbeddingCache()
    before = embedder.n_encoded
    first = embed_cached(embedder, TEXTS, cache)
    assert embedder.n_encoded - before == 5 and len(cache) == 5
    second = embed_cached(embedder, TEXTS, cache)
    assert embedder.n_encoded - before == 5  # zero model calls
    assert np.array_equal(first, second)
    assert first.dtype == np.float32 and np.allclose(np.linalg.norm(first, axis=1), 1, atol=1e-6)


def test_only_new_and_distinct_texts_are_embedded(embedder):
    cache = MemoryEmbeddingCache()
    embed_cached(embedder, TEXTS[:3], cache)
    before = embedder.n_encoded
    mixed = [TEXTS[4], TEXTS[0], TEXTS[3], TEXTS[4], TEXTS[1], TEXTS[3]]
    vecs = embed_cached(embedder, mixed, cache)
    assert embedder.n_encoded - before == 2  # TEXTS[3] and TEXTS[4], once each
    assert vecs.shape == (6, 384)
    assert np.array_equal(vecs[0], vecs[3]) and np.array_equal(vecs[2], vecs[5])
    stored = cache.get_many(embedder.model_id, [text_sha256(TEXTS[3])])
    assert stored[text_sha256(TEXTS[3])].dtype == np.float16
    assert stored[text_sha256(TEXTS[3])].shape == (384,)


def test_cached_vectors_agree_with_fresh_ones(embedder):
    cache = MemoryEmbeddingCache()
    cached = embed_cached(embedder, TEXTS, cache)
    fresh = embedder.encode(TEXTS)
    cosines = np.einsum("ij,ij->i", cached, fresh)
    assert (cosines > 0.9999).all()


def test_cache_entries_are_per_model(embedder):
    cache = MemoryEmbeddingCache()
    cache.put_many("other-model@000000000000", [(text_sha256(TEXTS[0]), np.ones(384))])
    before = embedder.n_encoded
    embed_cached(embedder, TEXTS[:1], cache)
    assert embedder.n_encoded - before == 1


def test_progress_counts_texts_to_embed(embedder):
    seen = []
    embed_cached(embedder, TEXTS, MemoryEmbeddingCache(), progress=lambda d, t: seen.append((d, t)))
    assert seen == [(0, 5), (5, 5)]
