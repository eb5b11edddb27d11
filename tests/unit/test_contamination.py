"""Word n-gram overlaps of docs with benchmark examples (engine.betr.contamination): planted
copies found exactly, with their character spans; nothing else, whatever the hashes do."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.betr import contamination as c
from engine.betr.contamination import Overlap, build_index, find_overlaps
from engine.errors import UsageError

COUNT = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"
SONG = "don't stop believing hold on to that feeling streetlight people living just to find emotion"
GERMAN = "ärger über öl straße und füße sind groß naïve café crème brûlée déjà vu"
EXAMPLES = [COUNT, SONG, GERMAN]


def found(docs: list[str], n: int = 13, examples: list[str] = EXAMPLES) -> list[tuple]:
    """(doc, example, start, end, ngrams, the doc's text[start:end]) of every overlap."""
    overlaps = find_overlaps(build_index(examples, n), docs)
    return [
        (o.doc, o.example, o.start, o.end, o.ngrams, docs[o.doc][o.start : o.end]) for o in overlaps
    ]


def test_an_exact_copy_is_found_with_its_span():
    doc = f"Intro: {COUNT}. The end"
    # "Intro: " is 7 characters; the copy's 88 characters end before the full stop
    assert found([doc]) == [(0, 0, 7, 95, 3, COUNT)]


def test_case_and_punctuation_do_not_matter():
    doc = '"ONE, Two; three FOUR five... six (seven) eight nine ten, eleven TWELVE thirteen!" she said'
    # the span starts at the O of ONE (after the quote) and ends after "thirteen" (before "!")
    assert found([doc]) == [
        (
            0,
            0,
            1,
            80,
            1,
            "ONE, Two; three FOUR five... six (seven) eight nine ten, eleven TWELVE thirteen",
        )
    ]


def test_a_span_runs_across_line_breaks():
    doc = "one two three four five six\nseven eight nine\r\n  ten eleven twelve thirteen fourteen"
    # 27 + 1 + 16 + 4 + 35 characters: the whole doc, line breaks and all
    assert found([doc]) == [(0, 0, 0, 83, 2, doc)]


def test_a_12_gram_matches_at_n_12_but_not_at_13():
    doc = "zero one two three four five six seven eight nine ten eleven twelve zero"
    assert found([doc], n=13) == []
    # after "zero ": 51 letters and 11 spaces
    assert found([doc], n=12) == [(0, 0, 5, 67, 1, doc[5:67])]
    assert doc[5:67] == "one two three four five six seven eight nine ten eleven twelve"


def test_apostrophes_and_hyphens_are_deleted_not_breaks():
    doc = (
        "DONT stop believing, hold on to that feeling. Street-light people: living just to find..."
    )
    # "don't" = "dont" and "street-light" = "streetlight"; the span ends after "find"
    assert found([doc]) == [(0, 1, 0, 86, 2, doc[:86])]
    assert doc[:86].endswith("to find")


def test_unicode_words_lowercase_and_any_whitespace_breaks():
    doc = "Vorher: ÄRGER\u00a0ÜBER — Öl, STRASSE und straße und füße sind groß naïve CAFÉ crème brûlée!"
    # "—" alone is no word; "STRASSE" lowercases to "strasse", not "straße": the copy starts after
    assert c.normalized_words("ÄRGER\u00a0ÜBER — Öl") == ["ärger", "über", "öl"]
    assert found([doc]) == []
    doc = (
        "Vorher: ÄRGER\u00a0ÜBER — Öl, STRAßE und Füße sind GROSS naïve café crème brûlée déjà vu."
    )
    assert found([doc]) == []  # GROSS is not groß
    doc = "Vorher: ÄRGER\u00a0ÜBER — Öl, STRAßE und Füße sind groß naïve café crème brûlée déjà vu."
    # after "Vorher: ": 60 letters (the dash counts as one) and 14 spaces
    assert found([doc]) == [(0, 2, 8, 82, 2, doc[8:82])]
    assert doc[8:82].endswith("déjà vu")


def test_two_copies_are_two_overlaps_and_touching_windows_merge():
    first = "one two three four five six seven eight nine ten eleven twelve thirteen"
    doc = f"{first} and {first}"
    assert found([doc]) == [(0, 0, 0, 71, 1, first), (0, 0, 76, 147, 1, first)]
    # two 13-grams back to back in the doc (words 0-12 and 13-25) touch: one overlap
    back_to_back = f"{first} {first}"
    [(d, e, start, end, k, _)] = found([back_to_back], examples=[back_to_back])
    assert (d, e, start, end) == (0, 0, 0, len(back_to_back))
    assert k == 14  # every 13-gram of the 26 words is shared


def test_several_docs_and_examples_are_reported_by_doc_then_example():
    docs = ["nothing to see here", f"{SONG} {COUNT}", COUNT]
    rows = found(docs)
    assert [(r[0], r[1], r[4]) for r in rows] == [(1, 0, 3), (1, 1, 3), (2, 0, 3)]


def test_a_clean_pool_has_no_overlaps():
    rng = np.random.default_rng(0)
    words = COUNT.split() + SONG.split() + GERMAN.split()
    docs = [" ".join(rng.choice(words, size=200)) for _ in range(300)]
    assert found(docs) == []
    assert found([]) == []
    assert found(["", "short text", "   "]) == []
    assert find_overlaps(build_index([], 13), [COUNT]) == []


def test_hash_collisions_never_make_a_false_positive(monkeypatch):
    """Every word hashed alike and every n-gram hashed alike: all windows are candidates, and
    only the exact word-for-word matches survive."""
    docs = [
        f"Intro: {COUNT}. The end",
        "zero one two three four five six seven eight nine ten eleven twelve zero",
        "fifteen fourteen thirteen twelve eleven ten nine eight seven six five four three two one",
        f"{SONG.upper()} and then some more words to make it long",
    ]
    honest = found(docs)
    real_words = c.word_hashes

    def constant_words(buf):
        starts, h = real_words(buf)
        return starts, np.zeros_like(h)

    monkeypatch.setattr(c, "word_hashes", constant_words)
    monkeypatch.setattr(
        c, "ngram_hashes", lambda values, n: np.zeros(max(0, len(values) - n + 1), np.uint64)
    )
    assert found(docs) == honest
    assert [(r[0], r[1]) for r in honest] == [(0, 0), (3, 1)]


@pytest.mark.parametrize("n", [7, 51, 0, True, 13.0])
def test_n_outside_8_to_50_is_refused_with_the_fix(n):
    with pytest.raises(UsageError) as err:
        c.check_n(n)
    assert "from 8 to 50" in str(err.value)
    assert "--n 13" in str(err.value)


def test_evaluation_splits_rank_first():
    assert [c.split_rank(s) for s in ("test", "Validation", "dev", None, "", "train")] == [
        0,
        0,
        0,
        1,
        1,
        2,
    ]


def test_words_and_spans_agree_with_the_fast_normalisation():
    text = "It's \u2003 the END—of (the) world_as we know-it… «Ünïcode» x_y __ 3.14"
    words, spans = c.words_with_spans(text)
    assert words == c.normalized_words(text) == c.normalized_text(text).split()
    assert words == [
        "its",
        "the",
        "endof",
        "the",
        "worldas",
        "we",
        "knowit",
        "ünïcode",
        "xy",
        "314",
    ]
    assert [text[a:b] for a, b in spans][:3] == ["It's", "the", "END—of"]
    assert text[slice(*spans[7])] == "Ünïcode"


def test_the_whitespace_beyond_ascii_is_spelled_out_in_full():
    import re

    wide = {chr(i) for i in range(0x80, 0x110000) if chr(i).isspace()}
    assert wide == {
        chr(i) for i in range(0x80, 0x110000) if re.fullmatch(f"[{c.OTHER_SPACE}]", chr(i))
    }


def brute_force(docs: list[str], examples: list[str], n: int) -> list[Overlap]:
    """Every window of every doc compared with every n-gram of every example."""
    out = []
    for d, doc in enumerate(docs):
        words, spans = c.words_with_spans(doc)
        for e, example in enumerate(examples):
            ex = c.normalized_words(example)
            grams = {tuple(ex[i : i + n]) for i in range(len(ex) - n + 1)}
            hits = [i for i in range(len(words) - n + 1) if tuple(words[i : i + n]) in grams]
            runs: list[list[int]] = []
            for i in hits:
                if runs and i <= runs[-1][-1] + n:
                    runs[-1].append(i)
                else:
                    runs.append([i])
            out += [Overlap(d, e, spans[r[0]][0], spans[r[-1] + n - 1][1], len(r)) for r in runs]
    return sorted(out, key=lambda o: (o.doc, o.example, o.start))


WORD = st.sampled_from(["a", "B", "a,", "b.", "A-a", "é", "\u00c9", "c"])
SEP = st.sampled_from([" ", " ", "\n", "\u00a0", " - ", "\u2003", "\r\n"])
TEXT = st.lists(st.tuples(WORD, SEP), max_size=40).map(lambda ws: "".join(w + s for w, s in ws))


@settings(max_examples=60, deadline=None)
@given(docs=st.lists(TEXT, max_size=5), examples=st.lists(TEXT, min_size=1, max_size=4))
def test_the_index_finds_exactly_what_brute_force_finds(docs, examples):
    assert find_overlaps(build_index(examples, 8), docs) == brute_force(docs, examples, 8)
