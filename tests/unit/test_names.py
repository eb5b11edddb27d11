"""One normalisation links a benchmark's spellings (lm-eval's `arc_easy`, an imported
`arc-easy`), and a name that matches nothing gets the closest few known names, not all of them."""

from __future__ import annotations

import pytest

from engine.errors import NotFoundError, UsageError
from engine.names import (
    canonical,
    closest,
    matching,
    normalise,
    resolve,
    same_name,
    spellings,
    suggest,
)

DCLM_LIKE = [f"cc_v4_resiliparse_shard{i}_OH_eli5_{k}" for i in range(40) for k in range(10)]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("arc_easy", "arc_easy"),
        ("arc-easy", "arc_easy"),
        ("ARC-Easy", "arc_easy"),
        (" ARC Easy ", "arc_easy"),
        ("arc.easy", "arc_easy"),
        ("hendrycksTest-abstract_algebra", "hendryckstest_abstract_algebra"),
        ("mmlu/anatomy", "mmlu_anatomy"),
        ("--gsm8k__", "gsm8k"),
        ("math-500", "math_500"),
    ],
)
def test_normalise(name, expected):
    assert normalise(name) == expected


def test_result_and_imported_spellings_are_one_name():
    assert same_name("arc_easy", "arc-easy") and same_name("ARC-Challenge", "arc_challenge")
    assert not same_name("arc_easy", "arc_challenge")
    imported = ["arc-challenge", "arc-easy", "gsm8k"]
    assert matching("arc_easy", imported) == ["arc-easy"]
    assert matching("arc-easy", [*imported, "arc_easy"]) == ["arc-easy"]  # exact first
    assert matching("ARC_Easy", [*imported, "arc_easy"]) == ["arc-easy", "arc_easy"]
    assert matching("piqa", imported) == []
    assert resolve("arc_easy", imported, "benchmark") == "arc-easy"
    # results: every spelling is the same benchmark's rows
    assert spellings("ARC-Easy", [*imported, "arc_easy"]) == ["arc-easy", "arc_easy"]
    assert spellings("piqa", imported) == []


def test_canonical_shows_the_most_used_spelling():
    rows = ["arc_easy"] * 3 + ["arc-easy"] * 2 + ["gsm8k"]
    assert canonical(rows) == {"arc_easy": "arc_easy", "arc-easy": "arc_easy", "gsm8k": "gsm8k"}
    # weights (rows per name, as SQL counts them) instead of occurrences; ties: sort order
    assert canonical(["arc_easy", "arc-easy"], [10, 400])["arc_easy"] == "arc-easy"
    assert canonical(["arc_easy", "arc-easy"], [5, 5])["arc_easy"] == "arc-easy"


def test_a_mistyped_name_gets_the_closest_few_not_the_list():
    known = [*DCLM_LIKE, "rw_v2_fasttext_openhermes", "rw_v2_fasttext_openhermes_reddit"]
    assert len(known) > 400
    near = closest("rw_v2_fastext_openhermes", known)
    assert near[0] == "rw_v2_fasttext_openhermes" and len(near) <= 5
    fix = suggest("rw_v2_fastext_openhermes", known, "run")
    assert fix.startswith("did you mean 'rw_v2_fasttext_openhermes'")
    assert fix.count("'") <= 10  # at most five names quoted
    assert closest("ARC-EASY", ["arc_easy", "arc_challenge", "piqa"])[0] == "arc_easy"


def test_suggest_when_nothing_is_close():
    assert suggest("nope", ["books", "code", "web"], "run") == "known runs: books, code, web"
    assert suggest("x", [], "proxy", plural="proxies") == "there are no proxies yet"
    fix = suggest("zzz", DCLM_LIKE, "run", listing="betr results list")
    assert fix.startswith(f"none of the {len(DCLM_LIKE)} known runs is close, e.g. ")
    assert fix.endswith("(list them: betr results list)") and fix.count(",") <= 3


def test_resolve_raises_with_the_suggestion_or_the_ambiguity():
    with pytest.raises(
        NotFoundError, match=r"unknown benchmark 'gsm9k'\n  fix: did you mean 'gsm8k'"
    ):
        resolve("gsm9k", ["gsm8k", "arc-easy"], "benchmark")
    with pytest.raises(
        UsageError, match="'arc easy' matches several benchmarks: arc-easy, arc_easy"
    ):
        resolve("arc easy", ["arc-easy", "arc_easy"], "benchmark")
