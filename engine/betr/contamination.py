"""Benchmark contamination (METHODS "Contamination"): the word n-grams a document shares with
benchmark examples, found through a hashed n-gram index of the examples (never pairwise) and
confirmed word for word, so every reported overlap is exact, whatever the hashes do.

Words. Lowercase, strip punctuation, split on whitespace: punctuation is every character that
is neither a letter or digit (`str.isalnum`) nor whitespace, and "_"; it is deleted, not turned
into a break, so "don't" is the word "dont", "U.S." is "us" and "well-known" is "wellknown",
and a chunk of punctuation alone ("--", "§") is no word. Line breaks are whitespace, so an
overlap may run across them. A word's span in the original text runs from its first letter or
digit to its last (surrounding quotes and full stops are not part of it).

Overlaps. An n-gram is n consecutive words of one text (a doc, or one example's stored text).
For one doc and one example, the shared n-grams whose words overlap or touch in the doc form
one overlap: `Overlap(doc, example, start, end, ngrams)`, `start:end` the characters from the
first letter of its first word to the last letter of its last word, `ngrams` the shared
n-grams in it (a 20-word copy at n = 13 is 8). A doc that copies an example twice has two.

Speed. A batch of docs is normalised into one UTF-8 buffer and hashed with numpy: each word's
64-bit hash from its bytes (`word_hashes`), each n-gram's as a polynomial of its words' hashes
mod 2**64 (`ngram_hashes`); no Python object per word. The n-gram hashes go through a bitmap of
the index's hashes, then a binary search; a hash hit must then have the same word hashes, and
finally the same words (compared as strings), before it counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engine.errors import UsageError

MIN_N, MAX_N, DEFAULT_N = 8, 50, 13
# benchmark splits that hold evaluation items: searched and reported first
EVAL_SPLITS = frozenset({"test", "testing", "validation", "valid", "val", "dev", "eval"})

_PUNCT = re.compile(r"[^\w\s]")  # neither letter/digit nor whitespace ("_" is a \w: apart)
# the whitespace beyond ASCII (str.isspace), spelled out: a class this small scans fastest
OTHER_SPACE = "\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_OTHER_SPACE = re.compile(f"[{OTHER_SPACE}]")
_CHUNK = re.compile(r"\S+")
_ALNUM = re.compile(r"[^\W_]+")
# the same deletion for an ASCII text, with str.translate (much faster than the regex)
_ASCII_PUNCT = {c: None for c in range(128) if not (chr(c).isalnum() or chr(c).isspace())}
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [2**64 - 1], dtype=np.uint64)
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd: the n-gram polynomial's base
_VERIFY_BLOCK = 1 << 18  # candidates compared per numpy step (bounded memory)


def check_n(n: int) -> int:
    """`n` when it is an n-gram length we check (8..50), else a UsageError naming the fix."""
    if isinstance(n, bool) or not isinstance(n, int) or not MIN_N <= n <= MAX_N:
        raise UsageError(
            f"--n must be a whole number of words from {MIN_N} to {MAX_N}, got {n}",
            fix=f"e.g. --n {DEFAULT_N} (the default)",
        )
    return n


def split_rank(split: str | None) -> int:
    """0 for an evaluation split (test, validation, dev, ...), 1 unknown, 2 any other (train)."""
    if not split:
        return 1
    return 0 if split.strip().lower() in EVAL_SPLITS else 2


# -- words ----------------------------------------------------------------------------------
def normalized_words(text: str) -> list[str]:
    """The words of `text`: lowercased, punctuation deleted, split on whitespace."""
    return normalized_text(text).split()


def normalized_text(text: str) -> str:
    """`text` lowercased with its punctuation deleted and every whitespace character that is
    not ASCII turned into a space: its words separated by ASCII whitespace (what
    `word_hashes` reads)."""
    low = text.lower()
    if low.isascii():
        return low.translate(_ASCII_PUNCT)
    return _OTHER_SPACE.sub(" ", _PUNCT.sub("", low).replace("_", ""))


def words_with_spans(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """`normalized_words(text)` and each word's (start, end) character span in `text`.

    Per whitespace chunk, which is what `normalized_words` sees too: lowercasing never looks
    across whitespace, and deleting punctuation never removes it, so both give the same words.
    """
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _CHUNK.finditer(text):
        chunk = m.group()
        word = _PUNCT.sub("", chunk.lower()).replace("_", "")
        if not word:
            continue
        runs = [r.span() for r in _ALNUM.finditer(chunk)]
        lo, hi = (runs[0][0], runs[-1][1]) if runs else (0, len(chunk))
        words.append(word)
        spans.append((m.start() + lo, m.start() + hi))
    return words, spans


# -- hashes ---------------------------------------------------------------------------------
def word_hashes(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The words of a normalised UTF-8 buffer (runs of bytes above 0x20: after
    `normalized_text` only whitespace is left below): ((w,) int64 start byte of each, (w,)
    uint64 hash of each: its length and its bytes, 8 at a time, mixed). The work per byte is
    one comparison; the rest is per word."""
    space = buf <= 0x20
    first = ~space
    last = first.copy()
    first[1:] &= space[:-1]
    last[:-1] &= space[1:]
    starts = np.flatnonzero(first)
    lengths = np.flatnonzero(last) + 1 - starts
    eight = sliding_window_view(np.concatenate([buf, np.zeros(8, np.uint8)]), 8)
    h = _mix(lengths.astype(np.uint64) * _MIX, eight, starts, lengths, 0)
    todo = np.flatnonzero(lengths > 8)
    step = 1
    while len(todo):  # bytes 8*step.. of the words that long
        h[todo] = _mix(h[todo], eight, starts[todo], lengths[todo], step)
        step += 1
        todo = todo[lengths[todo] > 8 * step]
    h *= _MIX2
    h ^= h >> np.uint64(29)
    return starts, h


def _mix(
    h: np.ndarray, eight: np.ndarray, starts: np.ndarray, lengths: np.ndarray, step: int
) -> np.ndarray:
    """`h` with bytes 8*step..8*step+7 of each word (those within it) mixed in."""
    chunk = np.ascontiguousarray(eight[starts + 8 * step]).view("<u8").ravel()
    chunk &= _LOW_BYTES[np.minimum(lengths - 8 * step, 8)]
    h = (h ^ chunk) * _BASE
    h ^= h >> np.uint64(32)
    return h


def ngram_hashes(values: np.ndarray, n: int) -> np.ndarray:
    """(len(values) - n + 1,) uint64: the hash of each window of n consecutive word hashes,
    sum_j values[i + j] * BASE**(n - 1 - j) mod 2**64 (empty when there are fewer than n)."""
    windows = len(values) - n + 1
    if windows <= 0:
        return np.zeros(0, dtype=np.uint64)
    out = values[:windows].copy()
    for j in range(1, n):
        out *= _BASE
        out += values[j : j + windows]
    return out


def hash_texts(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The word hashes of all `texts`, one after the other ((w,) uint64), and each text's word
    count ((len(texts),) int64)."""
    parts = [normalized_text(t) for t in texts]
    sizes = np.array([len(p) if p.isascii() else len(p.encode()) for p in parts], dtype=np.int64)
    buf = np.frombuffer("\n".join(parts).encode("utf-8"), dtype=np.uint8)
    starts, hashes = word_hashes(buf)
    part_start = np.concatenate(([0], np.cumsum(sizes + 1)))
    return hashes, np.diff(np.searchsorted(starts, part_start)).astype(np.int64)


def _windows(lengths: np.ndarray, n: int) -> np.ndarray:
    """Start positions of the windows of n words that lie within one text, for texts of
    `lengths` words laid one after the other."""
    total = int(lengths.sum()) - n + 1
    if total <= 0:
        return np.zeros(0, dtype=np.int64)
    text_of = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    return np.flatnonzero(text_of[:total] == text_of[n - 1 :])


# -- the index ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Overlap:
    doc: int  # index of the doc in the texts searched
    example: int  # index of the example in the texts the index was built from
    start: int  # characters start:end of the doc's text
    end: int
    ngrams: int  # shared n-grams in start:end


@dataclass
class NgramIndex:
    """Every n-gram of the examples, by hash. Built once (`build_index`), searched per batch."""

    n: int
    texts: Sequence[str]  # the examples' texts (their words confirm a match)
    ex_start: np.ndarray  # (examples + 1,) int64: where each example's words start in ex_hashes
    ex_hashes: np.ndarray  # (w,) uint64 word hashes of all examples, one after the other
    keys: np.ndarray  # (entries,) uint64 sorted: the hash of each n-gram of each example
    entry_example: np.ndarray  # (entries,) int64 example index
    entry_pos: np.ndarray  # (entries,) int64 where the n-gram starts in ex_hashes
    bitmap: np.ndarray  # (2**bits,) bool: some key has these top bits
    bits: int

    @property
    def entries(self) -> int:
        return len(self.keys)

    def slots(self, hashes: np.ndarray) -> np.ndarray:
        return (hashes >> np.uint64(64 - self.bits)).astype(np.int64)


def build_index(texts: Sequence[str], n: int) -> NgramIndex:
    """The index of the n-grams of `texts` (the examples, in the order overlaps report them)."""
    check_n(n)
    ex_hashes, lengths = hash_texts(texts)
    win = _windows(lengths, n)
    keys = ngram_hashes(ex_hashes, n)[win]
    order = np.argsort(keys, kind="stable")
    bits = int(np.clip(np.ceil(np.log2(max(1, len(keys)) * 16)), 16, 28))
    index = NgramIndex(
        n=n,
        texts=texts,
        ex_start=np.concatenate(([0], np.cumsum(lengths))),
        ex_hashes=ex_hashes,
        keys=keys[order],
        entry_example=np.repeat(np.arange(len(texts), dtype=np.int64), lengths)[win][order],
        entry_pos=win[order],
        bitmap=np.zeros(1 << bits, dtype=bool),
        bits=bits,
    )
    index.bitmap[index.slots(index.keys)] = True
    return index


# -- the search -----------------------------------------------------------------------------
def find_overlaps(index: NgramIndex, texts: Sequence[str]) -> list[Overlap]:
    """Every overlap of `texts` (the docs) with the index's examples, by doc, then example
    (in index order), then start."""
    n = index.n
    hashes, lengths = hash_texts(texts)
    win = _windows(lengths, n)
    if not len(win) or not index.entries:
        return []
    grams = ngram_hashes(hashes, n)[win]
    maybe = index.bitmap[index.slots(grams)]
    win, grams = win[maybe], grams[maybe]
    lo = np.searchsorted(index.keys, grams, "left")
    count = np.searchsorted(index.keys, grams, "right") - lo
    # every (window, index entry) with the same n-gram hash, then those with the same words
    win = np.repeat(win, count)
    entry = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(count.sum())
    same = _same_hashes(index, hashes, win, entry)
    win, entry = win[same], entry[same]
    if not len(win):
        return []
    starts = np.concatenate(([0], np.cumsum(lengths)))
    doc = np.searchsorted(starts, win, "right") - 1
    pos = win - starts[doc]
    example = index.entry_example[entry]
    ex_pos = index.entry_pos[entry] - index.ex_start[example]
    words, spans = {}, {}
    for d in np.unique(doc).tolist():
        words[d], spans[d] = words_with_spans(texts[d])
        if len(words[d]) != lengths[d]:
            raise RuntimeError(f"doc {d}: {len(words[d])} words with spans, {lengths[d]} hashed")
    exact = _same_words(index, words, doc, pos, example, ex_pos)
    # one match per (doc, example, window), however often the example has the n-gram
    key = np.unique(np.stack([doc, example, pos], axis=1)[exact], axis=0)
    return _merge_runs(spans, n, key[:, 0], key[:, 1], key[:, 2])


def _same_hashes(
    index: NgramIndex, hashes: np.ndarray, win: np.ndarray, entry: np.ndarray
) -> np.ndarray:
    """(c,) bool: the doc window at `win` has the word hashes of index entry `entry`."""
    steps = np.arange(index.n, dtype=np.int64)
    out = np.zeros(len(win), dtype=bool)
    for at in range(0, len(win), _VERIFY_BLOCK):
        w = win[at : at + _VERIFY_BLOCK, None] + steps
        e = index.entry_pos[entry[at : at + _VERIFY_BLOCK], None] + steps
        out[at : at + _VERIFY_BLOCK] = (hashes[w] == index.ex_hashes[e]).all(axis=1)
    return out


def _same_words(
    index: NgramIndex,
    words: dict[int, list[str]],
    doc: np.ndarray,
    pos: np.ndarray,
    example: np.ndarray,
    ex_pos: np.ndarray,
) -> np.ndarray:
    """(c,) bool: the n words of `doc` from `pos` are those of `example` from `ex_pos`, as
    strings (two different words may share a hash)."""
    ex_words = {e: normalized_words(index.texts[e]) for e in np.unique(example).tolist()}
    n = index.n
    return np.array(
        [
            words[d][p : p + n] == ex_words[e][q : q + n]
            for d, p, e, q in zip(
                doc.tolist(), pos.tolist(), example.tolist(), ex_pos.tolist(), strict=True
            )
        ],
        dtype=bool,
    )


def _merge_runs(
    spans: dict[int, list[tuple[int, int]]],
    n: int,
    doc: np.ndarray,
    example: np.ndarray,
    pos: np.ndarray,
) -> list[Overlap]:
    """Matched windows (doc, example, word position), sorted -> overlaps: per doc and example,
    windows whose words overlap or touch (the next starts at most n words after the last)."""
    new = np.ones(len(doc), dtype=bool)
    new[1:] = (doc[1:] != doc[:-1]) | (example[1:] != example[:-1]) | (pos[1:] > pos[:-1] + n)
    first = np.flatnonzero(new)
    last = np.append(first[1:], len(doc)) - 1
    out = []
    for a, b in zip(first.tolist(), last.tolist(), strict=True):
        s = spans[int(doc[a])]
        start, end = s[int(pos[a])][0], s[int(pos[b]) + n - 1][1]
        out.append(Overlap(int(doc[a]), int(example[a]), start, end, b - a + 1))
    return out
