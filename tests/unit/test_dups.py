"""Duplicate detection's pure parts against hand-computed values and independent references:
the two normalisations, the exact hash (and migration 11's copy of it), the vectorised shingle
hash against a plain-Python one, MinHash estimates within their stated error of the exact
Jaccard, datatrove's permutations and sha1 shingles, LSH clusters and what one-per-cluster
drops."""

from __future__ import annotations

import hashlib
import random
import sqlite3
import unicodedata

import numpy as np
import pytest

from engine.betr import minhash as mh
from engine.betr.dedup_text import exact_hash, exact_norm, shingle_words, simplify_text
from engine.errors import UsageError
from engine.store.schema import DATA_STEPS, MIGRATIONS


def test_exact_norm_folds_case_composition_and_spacing_only():
    assert exact_norm("  Hello,\tWORLD \n\n again ") == "hello, world again"
    # e + combining acute (NFD) is é (NFC)
    assert exact_norm("Caf\u0065\u0301") == exact_norm("Café") == "café"
    assert exact_norm("a.b") != exact_norm("a b")  # punctuation still counts
    assert exact_hash("Hello  world") == exact_hash("hello world\n")
    assert exact_hash("hello world") != exact_hash("hello world 2")
    digest = hashlib.blake2b(b"hello world", digest_size=8).digest()
    assert exact_hash("Hello World") == int.from_bytes(digest, "little", signed=True)


def test_migration_10_hashes_like_the_importer():
    number = next(i + 1 for i, sql in enumerate(MIGRATIONS) if "CREATE TABLE doc_hashes" in sql)
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        "CREATE TABLE docs (id INTEGER PRIMARY KEY, corpus_id INTEGER, text TEXT);"
        "CREATE TABLE doc_hashes (doc_id INTEGER PRIMARY KEY, corpus_id INTEGER, "
        "exact_hash INTEGER);"
    )
    texts = ["A  b", "Caf\u0065\u0301 \u00c9t\u00c9", "x" * 5000, "", "\u212b ohm \u2126"]
    conn.executemany(
        "INSERT INTO docs (id, corpus_id, text) VALUES (?, 1, ?)", list(enumerate(texts, 1))
    )
    DATA_STEPS[number](conn)
    got = dict(conn.execute("SELECT doc_id, exact_hash FROM doc_hashes").fetchall())
    assert got == {i: exact_hash(t) for i, t in enumerate(texts, 1)}


def test_simplify_text_is_datatrove_s_default_normalisation():
    # lowercase, numbers -> 0 (decimal part included), punctuation -> space, whitespace
    # collapsed, diacritics removed
    assert simplify_text("Héllo,  World! Price: 3.14 or ١٢٣ — “ok”") == (
        "hello world price 0 or 0 ok"
    )
    assert shingle_words("A-b\tc\n\nd") == ["a", "b", "c", "d"]


def test_params_state_the_s_curve():
    p = mh.MinHashParams()
    assert (p.n_grams, p.buckets, p.rows, p.seed, p.permutations) == (5, 14, 8, 1, 112)
    assert p.p_candidate(0.8) == pytest.approx(1 - (1 - 0.8**8) ** 14)
    assert round(p.p_candidate(0.8), 3) == 0.924  # datatrove's docstring
    assert p.threshold == pytest.approx((1 / 14) ** (1 / 8))
    assert "112 permutations = 14 bands x 8 rows" in p.describe()
    with pytest.raises(UsageError, match="shingle hash"):
        mh.MinHashParams(shingle_hash="md5")
    with pytest.raises(UsageError, match="--bands"):
        mh.MinHashParams(buckets=0)


def test_permutations_are_datatrove_s_draw():
    a, b = mh.permutations(mh.MinHashParams())
    gen = np.random.RandomState(1)
    prime = np.uint64((1 << 61) - 1)
    assert (a == gen.randint(1, prime, dtype=np.uint64, size=(1, 112))[0]).all()
    assert (b == gen.randint(0, prime, dtype=np.uint64, size=(1, 112))[0]).all()


def _mix(z: int) -> int:
    m = (1 << 64) - 1
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def _poly_reference(text: str, n: int) -> list[int]:
    """The poly64 shingles of one text, in plain Python integers (the module docstring)."""
    m = (1 << 64) - 1
    words = []
    for w in simplify_text(text).split(" "):
        if not w:
            continue
        raw = sum(byte * pow(mh._POLY_BASE, j, 1 << 64) for j, byte in enumerate(w.encode()))
        words.append(_mix((raw + (len(w.encode()) << 32)) & m))
    mult = [int(x) for x in mh._GRAM_MULT]
    return [
        _mix(sum(words[i + k] * mult[k] for k in range(n)) & m) for i in range(len(words) - n + 1)
    ]


def test_vectorised_shingles_equal_the_plain_python_definition():
    texts = [
        "The quick brown fox jumps over the lazy dog, twice: 1 2 3.",
        "short text",
        "",
        "Ünïcödé wörds — and ÆØÅ, 日本語 テキスト are bytes too; the end of it all",
    ]
    for n in (1, 3, 5):
        hashes, counts = mh.shingles(texts, mh.MinHashParams(n_grams=n))
        expected = [_poly_reference(t, n) for t in texts]
        assert counts.tolist() == [len(e) for e in expected]
        assert hashes.tolist() == [h for e in expected for h in e]


def test_sha1_shingles_are_datatrove_s():
    text = "One two three four five six"
    hashes, counts = mh.shingles([text], mh.MinHashParams(shingle_hash="sha1"))
    grams = ["one two three four five", "two three four five six"]
    assert counts.tolist() == [2]
    assert hashes.tolist() == [
        int.from_bytes(hashlib.sha1(g.encode()).digest()[:8], "little") for g in grams
    ]


def _signature_reference(hashes: list[int], params: mh.MinHashParams) -> list[int]:
    """min over shingles of ((a * h + b) mod 2^64) mod (2^61 - 1), in Python integers."""
    a, b = mh.permutations(params)
    m, p = (1 << 64) - 1, (1 << 61) - 1
    return [
        min(((int(ai) * h + int(bi)) & m) % p for h in hashes) for ai, bi in zip(a, b, strict=True)
    ]


def test_signatures_equal_the_plain_python_minimum():
    params = mh.MinHashParams(n_grams=2)
    texts = ["a b c d e f g", "x y", "one", "p q r s " * 400]  # the last spans several steps
    hashes, counts = mh.shingles(texts, params)
    sigs, signed = mh.signatures(hashes, counts, params)
    assert signed.tolist() == [0, 1, 3]
    offsets = np.concatenate(([0], np.cumsum(counts)))
    for row, i in zip(sigs, signed, strict=True):
        part = hashes[offsets[i] : offsets[i + 1]].tolist()
        assert row.tolist() == _signature_reference(part, params)


def _variant(words: list[str], rng: random.Random, changes: int) -> list[str]:
    out = list(words)
    for i in rng.sample(range(len(out)), changes):
        out[i] = "new" + "".join(rng.choice("klmnop") for _ in range(6))
    return out


@pytest.mark.parametrize("shingle_hash", ["poly64", "sha1"])
def test_minhash_estimates_are_within_their_stated_error_of_the_exact_jaccard(shingle_hash):
    """The fraction of equal permutations estimates the Jaccard similarity J with standard
    error sqrt(J (1 - J) / 112); every pair here lies within 4 of them (+ 0.01)."""
    params = mh.MinHashParams(shingle_hash=shingle_hash)
    rng = random.Random(7)
    vocab = ["".join(rng.choice("abcdefghij") for _ in range(6)) for _ in range(5000)]
    base = [rng.choice(vocab) for _ in range(300)]
    pairs = [(base, _variant(base, rng, k)) for k in (1, 3, 8, 20, 40, 80, 150)]
    texts = [" ".join(w) for pair in pairs for w in pair]
    hashes, counts = mh.shingles(texts, params)
    sigs, signed = mh.signatures(hashes, counts, params)
    assert len(signed) == len(texts)
    for k in range(len(pairs)):
        a, b = texts[2 * k], texts[2 * k + 1]
        exact = mh.exact_jaccard(a, b, params.n_grams)
        estimate = float(np.mean(sigs[2 * k] == sigs[2 * k + 1]))
        error = (exact * (1 - exact) / params.permutations) ** 0.5
        assert abs(estimate - exact) <= 4 * error + 0.01, (k, exact, estimate)


def test_lsh_clusters_are_connected_components_of_shared_bands():
    keys = np.array(
        [[1, 2], [1, 9], [5, 9], [7, 8], [6, 6], [3, 4], [3, 5]], dtype=np.uint64
    )  # 0-1 share band 0, 1-2 band 1 (a chain), 5-6 band 0; 3 and 4 alone
    assert mh.cluster_labels(keys).tolist() == [0, 0, 0, -1, -1, 1, 1]
    assert mh.cluster_labels(np.zeros((0, 3), np.uint64)).tolist() == []


def test_one_per_cluster_drops_all_but_the_highest_p_member():
    from engine.api.dups import redundant_in_order

    order = np.array([50, 10, 30, 20, 40, 60])  # doc ids, best first
    ids = np.array([10, 20, 40, 30, 50, 99])  # cluster members (99: not in the run)
    keys = np.array([1, 1, 1, 2, 2, 3])
    # cluster 1: 10 (pos 1), 20 (pos 3), 40 (pos 4) -> keep 10; cluster 2: 30 (2), 50 (0) -> 50
    assert redundant_in_order(order, ids, keys).tolist() == [False, False, True, True, True, False]


def test_nfd_input_makes_the_same_words():
    nfd = unicodedata.normalize("NFD", "crème brûlée à la carte with friends today")
    assert shingle_words(nfd) == shingle_words("creme brulee a la carte with friends today")
