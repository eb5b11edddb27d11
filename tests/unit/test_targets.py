"""Balanced targets (draws, `--per-benchmark N|min`) and the evaluation-split warning."""

from __future__ import annotations

import pytest

from engine.betr.targets import (
    SPLIT_WARNING,
    draw_balanced,
    examples_used,
    is_eval_split,
    resolve_per_benchmark,
    split_warning_line,
    split_warnings,
)
from engine.errors import UsageError

IDS = {"arc": list(range(100, 140)), "gsm8k": list(range(500, 512)), "sciq": list(range(7, 27))}


def test_each_benchmark_gives_exactly_n_distinct_ids_of_its_own_in_file_order():
    drawn = draw_balanced(IDS, 10, seed=3)
    assert sorted(drawn) == sorted(IDS)
    for name, ids in drawn.items():
        assert len(ids) == len(set(ids)) == 10
        assert set(ids) <= set(IDS[name])
        assert ids == sorted(ids, key=IDS[name].index)


def test_the_draw_is_seeded_and_per_benchmark():
    assert draw_balanced(IDS, 10, seed=3) == draw_balanced(IDS, 10, seed=3)
    other = draw_balanced(IDS, 10, seed=4)
    assert all(other[name] != ids for name, ids in draw_balanced(IDS, 10, seed=3).items())
    # a benchmark's draw does not depend on the other benchmarks of the target set
    assert draw_balanced({"arc": IDS["arc"]}, 10, seed=3)["arc"] == draw_balanced(IDS, 10, 3)["arc"]
    # all of a benchmark is all of it; a negative seed works too
    assert draw_balanced(IDS, 12, seed=-1)["gsm8k"] == IDS["gsm8k"]


def test_per_benchmark_min_and_n():
    sizes = {name: len(ids) for name, ids in IDS.items()}
    assert resolve_per_benchmark("min", sizes) == resolve_per_benchmark(" MIN ", sizes) == 12
    assert resolve_per_benchmark(5, sizes) == 5
    assert resolve_per_benchmark("12", sizes) == 12  # every example of the smallest


@pytest.mark.parametrize(
    ("spec", "message", "fix"),
    [
        (
            "13",
            "--per-benchmark 13 is more than benchmark 'gsm8k' has (12 examples)",
            "use --per-benchmark 12 or less, or --per-benchmark min (the smallest benchmark's "
            "size, 12); or leave 'gsm8k' out",
        ),
        ("0", "--per-benchmark must be at least 1, got 0", None),
        ("half", "--per-benchmark must be a number or 'min', got 'half'", None),
    ],
)
def test_bad_per_benchmark_is_a_usage_error_naming_the_benchmark(spec, message, fix):
    sizes = {name: len(ids) for name, ids in IDS.items()}
    with pytest.raises(UsageError) as info:
        resolve_per_benchmark(spec, sizes)
    assert info.value.message == message
    if fix is not None:
        assert info.value.fix == fix


def test_examples_used_per_benchmark():
    assert examples_used({"benchmarks": {"b": 40, "a": 12}}) == {"a": 12, "b": 40}
    config = {"benchmarks": {"a": 12, "b": 40}, "target_examples": {"a": [1, 2], "b": [5, 6]}}
    assert examples_used(config) == {"a": 2, "b": 2}


@pytest.mark.parametrize(
    ("split", "flagged"),
    [
        ("test", True),
        ("validation", True),
        ("Validation", True),
        ("val", True),
        ("dev", True),
        ("test_rc_5shot", True),
        ("validation-1000", True),
        ("train", False),
        ("training", False),
        ("", False),
        (None, False),
        ("contest", False),
    ],
)
def test_eval_splits(split, flagged):
    assert is_eval_split(split) is flagged


def test_split_warnings_name_each_benchmark_from_an_evaluation_split():
    splits = {"sciq": "validation", "gsm8k": "train", "arc": "test", "mine": None}
    assert split_warnings(splits) == [
        f"arc (test split): {SPLIT_WARNING}",
        f"sciq (validation split): {SPLIT_WARNING}",
    ]
    assert SPLIT_WARNING == (
        "targets come from the evaluation split: results on this benchmark are not a fair test"
    )
    assert split_warning_line(splits) == f"arc (test), sciq (validation): {SPLIT_WARNING}"
    assert split_warnings({"gsm8k": "train"}) == [] and split_warning_line({}) == ""


def test_the_held_out_split_is_seeded_per_benchmark_and_leaves_some_of_each():
    from engine.betr.targets import draw_holdout

    ids = {"a": list(range(100, 140)), "b": [7, 8], "c": list(range(10))}
    held = draw_holdout(ids, 0.2, seed=5)
    assert {k: len(v) for k, v in held.items()} == {"a": 8, "b": 1, "c": 2}
    for name, chosen in held.items():
        assert chosen == sorted(chosen) and set(chosen) < set(ids[name])
    assert draw_holdout(ids, 0.2, seed=5) == held
    assert draw_holdout(ids, 0.2, seed=6)["a"] != held["a"]
    # a benchmark's split depends only on the seed, its name and its ids
    assert draw_holdout({"a": ids["a"]}, 0.2, seed=5) == {"a": held["a"]}
    # and not on the balanced draw's stream
    assert held["a"] != draw_balanced({"a": ids["a"]}, 8, 5)["a"]
    assert draw_holdout(ids, 0.0, seed=5) == {}
    assert len(draw_holdout({"x": [1, 2, 3]}, 0.9, seed=0)["x"]) == 2  # keeps one
    with pytest.raises(UsageError, match="too few to hold any out"):
        draw_holdout({"x": [1]}, 0.5, seed=0)
    with pytest.raises(UsageError, match="--holdout must be a share"):
        draw_holdout(ids, 1.0, seed=0)
