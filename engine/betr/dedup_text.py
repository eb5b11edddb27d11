"""The two text normalisations of duplicate detection, and the exact-duplicate hash.

Exact duplicates (`exact_hash`, computed at import and stored per doc): the text in Unicode
NFC, lowercased, every run of whitespace one space, leading and trailing whitespace dropped;
its BLAKE2b-64 digest as a signed 64-bit integer (SQLite's INTEGER). datatrove's
`ExactDedupSignature` hashes the text as given (its `content_getter`); we also fold case,
Unicode composition and spacing, so a copy that differs only there (a re-crawled page, a
reflowed paragraph) counts as exact, while punctuation and digits still count. Two texts with
the same hash are exact duplicates (a false match at a million docs: about 3e-8).

Near duplicates (`simplify_text`, the words MinHash shingles): datatrove's `simplify_text`
under its default `TextNormConfig` (what its MinHash dedup uses), step for step: lowercase,
every number (digits in any script, with an optional decimal part) -> "0", the characters of
PUNCTUATION -> a space, whitespace runs -> one space (stripped), then Unicode NFD with the
combining marks (category Mn) removed. The words are the result split on spaces (datatrove
splits with its language's word tokenizer, NLTK's for English; on text without punctuation
that is the same split but for contractions like "cannot").

Self-contained on purpose: migration 0011's data step computes `exact_hash` with its own copy
(a migration never imports today's code); tests/unit/test_dups.py holds the two equal.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# the kinds of duplicate cluster: what `betr select --dedup` and `betr dups --kind` take
DUP_KINDS = ("exact", "near")

# datatrove's PUNCTUATION (utils/text.py): ASCII punctuation, control characters other than
# tab and newline, and these typographic and CJK marks
_MARKS = "—”％１〈、━【「」，】；“《„’∶´．（–？！：～«〉》）。…►»"
_CONTROLS = "".join(chr(c) for c in (*range(0, 9), *range(11, 32), *range(127, 160)))
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" + _MARKS + _CONTROLS
_PUNCTUATION_TO_SPACE = str.maketrans(PUNCTUATION, " " * len(PUNCTUATION))
# \d matches every Unicode decimal digit (category Nd), as datatrove's \p{Nd}
_NUMBER = re.compile(r"\d+([.,،٫⎖⎗⎘]\d+)?")


def exact_norm(text: str) -> str:
    """NFC, lowercased, whitespace runs as one space, stripped (see the module docstring)."""
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def exact_hash(text: str) -> int:
    """The signed 64-bit BLAKE2b digest of `exact_norm(text)` (UTF-8)."""
    digest = hashlib.blake2b(exact_norm(text).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def simplify_text(text: str) -> str:
    """datatrove's `simplify_text` with its default TextNormConfig (module docstring); only
    the words that are not ASCII go through NFD (the rest are unchanged by it), and a word
    that was only combining marks leaves no empty word behind."""
    words = _NUMBER.sub("0", text.lower()).translate(_PUNCTUATION_TO_SPACE).split()
    if not text.isascii():
        words = [w if w.isascii() else _without_marks(w) for w in words]
        words = [w for w in words if w]
    return " ".join(words)


def _without_marks(word: str) -> str:
    """The word in NFD without its combining marks (category Mn)."""
    return "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")


def shingle_words(text: str) -> list[str]:
    """The words MinHash shingles: `simplify_text(text)` split on spaces."""
    return simplify_text(text).split()
