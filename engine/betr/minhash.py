"""Near-duplicate detection: MinHash LSH over word shingles, vectorised with numpy.

The scheme is datatrove's MinHash dedup (`pipeline/dedup/minhash.py`) with its defaults:
- shingles: the word `n_grams`-grams (5) of `dedup_text.simplify_text(text)`; a doc with fewer
  words has no shingle and no signature (never a near duplicate, as in datatrove);
- `buckets` x `rows` permutations (14 x 8 = 112): h -> (a * h + b) mod (2^61 - 1) with a, b
  drawn by `np.random.RandomState(seed)` exactly as datatrove draws them (seed 1), the
  product wrapping at 2^64 as datatrove's uint64 numpy arithmetic does; a doc's signature is
  the minimum over its shingles of each permutation;
- LSH: two docs are candidates when all `rows` values of any one band are equal. Each band's
  values are keyed by one 64-bit hash (`band_keys`; two different bands share a key with
  probability 2^-64); candidates are linked in key order and the clusters are the connected
  components of the links (datatrove's buckets + union-find stages).
The probability that two docs of Jaccard similarity s become candidates is
1 - (1 - s^rows)^buckets (0.924 at s = 0.8, 0.57 at 0.7, 0.0059 at 0.5): the S-curve's
threshold is about (1/buckets)^(1/rows) = 0.72.

Shingle hashes (SHINGLE_HASHES): "sha1" is datatrove's HashConfig(hash_fc="sha1",
precision=64): the first 8 bytes of SHA-1 of the n-gram's words joined by spaces, little
endian, one call per shingle (with the same permutations, the same signatures as datatrove's
bit for bit, so the same clusters). "poly64" (the default) hashes the same n-grams without a
Python call per shingle: each word's UTF-8 bytes as a polynomial mod 2^64 (prefix sums over
the chunk's bytes, `_word_hashes`), mixed by splitmix64's finaliser with the word's length,
and an n-gram as the mixed sum of its words' hashes times fixed odd constants. It is a
different hash, so a borderline pair can fall on the other side of the S-curve; the
probabilities above hold for both.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from engine.betr.dedup_text import shingle_words, simplify_text
from engine.errors import UsageError

MERSENNE_61 = np.uint64((1 << 61) - 1)
SHINGLE_HASHES = {
    "poly64": "word bytes as a polynomial mod 2^64, mixed (splitmix64), vectorised",
    "sha1": "SHA-1 of the n-gram, first 8 bytes (datatrove's sha1 HashConfig, 64-bit)",
}
BLOCK_ELEMENTS = 1 << 20  # shingles x permutations per numpy step (8 MB per uint64 temporary)
_U64 = np.uint64
_POLY_BASE = 0x100000001B3  # FNV's 64-bit prime: odd, so invertible mod 2^64
_POLY_INV = pow(_POLY_BASE, -1, 1 << 64)
_GRAM_MULT = np.array(  # odd multipliers of an n-gram's word positions (up to 64 words)
    np.random.RandomState(20240611).randint(1, 1 << 62, size=64, dtype=np.uint64) | _U64(1)
)
_BAND_MULT = np.array(  # odd multipliers of a band's rows (up to 64 rows)
    np.random.RandomState(20240612).randint(1, 1 << 62, size=64, dtype=np.uint64) | _U64(1)
)


@dataclass(frozen=True)
class MinHashParams:
    """What a near-duplicate result was computed with (stored with it)."""

    n_grams: int = 5  # words per shingle
    buckets: int = 14  # LSH bands
    rows: int = 8  # permutations per band
    seed: int = 1
    shingle_hash: str = "poly64"

    def __post_init__(self) -> None:
        if not 1 <= self.n_grams <= 64:
            raise UsageError(f"--ngrams must be between 1 and 64, got {self.n_grams}")
        if not 1 <= self.buckets <= 1024:
            raise UsageError(f"--bands must be between 1 and 1024, got {self.buckets}")
        if not 1 <= self.rows <= 64:
            raise UsageError(f"--rows must be between 1 and 64, got {self.rows}")
        if not 0 <= self.seed < 2**32:
            raise UsageError(f"--seed must be between 0 and {2**32 - 1}, got {self.seed}")
        if self.shingle_hash not in SHINGLE_HASHES:
            raise UsageError(
                f"unknown shingle hash '{self.shingle_hash}'",
                fix=f"use one of {', '.join(SHINGLE_HASHES)}",
            )

    @property
    def permutations(self) -> int:
        return self.buckets * self.rows

    @property
    def threshold(self) -> float:
        """The Jaccard similarity where the S-curve is steepest, about (1/b)^(1/r)."""
        return float((1.0 / self.buckets) ** (1.0 / self.rows))

    def p_candidate(self, jaccard: float) -> float:
        """The probability that two docs of this Jaccard similarity become candidates."""
        return float(1.0 - (1.0 - jaccard**self.rows) ** self.buckets)

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"word {self.n_grams}-grams, {self.permutations} permutations = {self.buckets} "
            f"bands x {self.rows} rows, seed {self.seed}, {self.shingle_hash} shingle hash "
            f"(candidates above Jaccard ~{self.threshold:.2f})"
        )


def permutations(params: MinHashParams) -> tuple[np.ndarray, np.ndarray]:
    """(a, b), each (permutations,) uint64: datatrove's draw for the same seed."""
    gen = np.random.RandomState(params.seed)
    size = (1, params.permutations)
    a = gen.randint(1, MERSENNE_61, dtype=np.uint64, size=size)
    b = gen.randint(0, MERSENNE_61, dtype=np.uint64, size=size)
    return a[0], b[0]


# -- shingles -------------------------------------------------------------------------------
def shingles(texts: Sequence[str], params: MinHashParams) -> tuple[np.ndarray, np.ndarray]:
    """(hashes (m,) uint64, counts (len(texts),) int64): each text's hashed word n-grams, text
    after text (counts[i] of them for text i, 0 when it has fewer than n_grams words)."""
    if params.shingle_hash == "sha1":
        return _sha1_shingles(texts, params.n_grams)
    return _poly_shingles([simplify_text(t) for t in texts], params.n_grams)


def sha1_64(data: str) -> int:
    """datatrove's sha1_hash64: the first 8 bytes of SHA-1 of the UTF-8 text, little endian."""
    return int.from_bytes(hashlib.sha1(data.encode("utf-8")).digest()[:8], "little")


def _sha1_shingles(texts: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    out: list[int] = []
    counts = np.zeros(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        words = shingle_words(text)
        grams = [sha1_64(" ".join(words[j : j + n])) for j in range(len(words) - n + 1)]
        counts[i] = len(grams)
        out.extend(grams)
    return np.array(out, dtype=np.uint64), counts


def mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, element-wise on uint64 (wrapping)."""
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def _word_hashes(simplified: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(hash (w,) uint64, doc (w,) int64) of every word of the texts (words split on spaces):
    mix64(sum_j byte_j * BASE^j mod 2^64 + len * 2^32), from prefix sums over the bytes."""
    buf = np.frombuffer("\n".join(simplified).encode("utf-8") + b"\n", dtype=np.uint8)
    sep = (buf == 0x20) | (buf == 0x0A)
    inner = ~sep
    starts = np.flatnonzero(inner & np.concatenate(([True], sep[:-1])))
    ends = np.flatnonzero(inner & np.concatenate((sep[1:], [True]))) + 1
    doc = np.searchsorted(np.flatnonzero(buf == 0x0A), starts)
    with np.errstate(over="ignore"):
        powers = np.empty(len(buf), dtype=np.uint64)
        powers[0] = 1
        powers[1:] = _POLY_BASE
        np.cumprod(powers, out=powers)
        inverse = np.empty(len(buf), dtype=np.uint64)
        inverse[0] = 1
        inverse[1:] = _POLY_INV
        np.cumprod(inverse, out=inverse)
        prefix = np.zeros(len(buf) + 1, dtype=np.uint64)
        np.cumsum(buf.astype(np.uint64) * powers, out=prefix[1:])
        raw = (prefix[ends] - prefix[starts]) * inverse[starts]
        lengths = (ends - starts).astype(np.uint64) << _U64(32)
        return mix64(raw + lengths), doc.astype(np.int64)


def _poly_shingles(simplified: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.zeros(len(simplified), dtype=np.int64)
    words, doc = _word_hashes(simplified)
    m = len(words) - n + 1
    if m <= 0:
        return np.zeros(0, dtype=np.uint64), counts
    whole = doc[:m] == doc[n - 1 :]  # the n-gram's words are all of one text
    with np.errstate(over="ignore"):
        acc = words[:m] * _GRAM_MULT[0]
        for k in range(1, n):
            acc += words[k : k + m] * _GRAM_MULT[k]
        grams = mix64(acc[whole])
    counts += np.bincount(doc[:m][whole], minlength=len(simplified))
    return grams, counts


# -- signatures and bands -------------------------------------------------------------------
def _mod_mersenne(x: np.ndarray) -> np.ndarray:
    """x mod (2^61 - 1) for uint64 x, in place: 2^61 = 1 (mod p), so x = hi + lo (mod p)."""
    hi = x >> _U64(61)
    x &= MERSENNE_61
    x += hi
    np.subtract(x, MERSENNE_61, out=x, where=x >= MERSENNE_61)
    return x


def signatures(
    hashes: np.ndarray, counts: np.ndarray, params: MinHashParams
) -> tuple[np.ndarray, np.ndarray]:
    """(signatures (k, permutations) uint64, signed (k,) indexes of the texts that have a
    shingle): per text, the minimum over its shingles of each permutation."""
    a, b = permutations(params)
    signed = np.flatnonzero(counts > 0)
    out = np.empty((len(signed), params.permutations), dtype=np.uint64)
    if len(signed) == 0:
        return out, signed
    sizes = counts[signed]
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    per_step = max(1, BLOCK_ELEMENTS // params.permutations)
    i = 0
    with np.errstate(over="ignore"):
        while i < len(signed):
            # as many whole texts as fit a step (a longer text alone, in slices)
            j = max(i + 1, int(np.searchsorted(offsets, offsets[i] + per_step, side="right")) - 1)
            lo, hi = int(offsets[i]), int(offsets[j])
            if j == i + 1 and hi - lo > per_step:
                out[i] = _min_over(hashes[lo:hi], a, b, per_step)
            else:
                phv = _mod_mersenne(hashes[lo:hi, None] * a + b)
                out[i:j] = np.minimum.reduceat(phv, offsets[i:j] - lo, axis=0)
            i = j
    return out, signed


def _min_over(hashes: np.ndarray, a: np.ndarray, b: np.ndarray, step: int) -> np.ndarray:
    best = np.full(len(a), np.iinfo(np.uint64).max, dtype=np.uint64)
    for lo in range(0, len(hashes), step):
        phv = _mod_mersenne(hashes[lo : lo + step, None] * a + b)
        np.minimum(best, phv.min(axis=0), out=best)
    return best


def band_keys(sigs: np.ndarray, params: MinHashParams) -> np.ndarray:
    """(k, buckets) uint64: each band's `rows` values as one mixed 64-bit key."""
    bands = sigs.reshape(len(sigs), params.buckets, params.rows)
    with np.errstate(over="ignore"):
        acc = bands[:, :, 0] * _BAND_MULT[0]
        for r in range(1, params.rows):
            acc += bands[:, :, r] * _BAND_MULT[r]
        return mix64(acc)


def text_band_keys(texts: Sequence[str], params: MinHashParams) -> tuple[np.ndarray, np.ndarray]:
    """(band keys (k, buckets) uint64, signed (k,) indexes of the texts that have one)."""
    hashes, counts = shingles(texts, params)
    sigs, signed = signatures(hashes, counts, params)
    return band_keys(sigs, params), signed


# -- clusters -------------------------------------------------------------------------------
def candidate_links(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(src, dst) row pairs linking the rows that share a band key, band by band: in each band
    every row to the next row of the same key (a chain per key, as datatrove's buckets stage
    writes; the clusters are the same as with every pair)."""
    src: list[np.ndarray] = []
    dst: list[np.ndarray] = []
    for band in range(keys.shape[1]):
        order = np.argsort(keys[:, band], kind="stable")
        sorted_keys = keys[order, band]
        same = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
        src.append(order[same])
        dst.append(order[same + 1])
    if not src:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(src).astype(np.int64), np.concatenate(dst).astype(np.int64)


def cluster_labels(keys: np.ndarray) -> np.ndarray:
    """(k,) int64: each row's cluster (connected components of `candidate_links`), -1 for a
    row alone. Clusters are numbered 0.. in the order of their first row."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(keys)
    labels = np.full(n, -1, dtype=np.int64)
    src, dst = candidate_links(keys)
    if len(src) == 0:
        return labels
    graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n)).tocsr()
    _, comp = connected_components(graph, directed=False)
    in_cluster = np.bincount(comp)[comp] > 1
    # scipy numbers components by their lowest row, so clusters come in order of first row
    _, dense = np.unique(comp[in_cluster], return_inverse=True)
    labels[in_cluster] = dense
    return labels


def exact_jaccard(a: str, b: str, n: int) -> float:
    """Jaccard similarity of two texts' sets of word n-grams (what MinHash estimates)."""
    sa, sb = (
        {tuple(w[i : i + n]) for i in range(len(w) - n + 1)} for w in map(shingle_words, (a, b))
    )
    union = sa | sb
    return len(sa & sb) / len(union) if union else math.nan
