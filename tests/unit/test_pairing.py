"""The Analysis screen's default sides (engine.analysis.pairing.choose) on checkpoint keys shaped
like real result sets: a dataset at two sizes (the demo experiment, DataDecide), Pythia's model
suite (one run per size, 27 shared checkpoints), DCLM's pools (one or two checkpoints per run
and size), a single size. Never x = y."""

from __future__ import annotations

from engine.analysis.pairing import MIN_POINTS, SideKey, choose, family

PYTHIA = {  # run -> (size, params)
    "pythia-70m": ("70M", 70_000_000),
    "pythia-160m": ("160M", 160_000_000),
    "pythia-410m": ("410M", 410_000_000),
    "pythia-1.4b": ("1.4B", 1_400_000_000),
    "pythia-1.4b-deduped": ("1.4B", 1_400_000_000),
    "pythia-12b-deduped": ("12B", 12_000_000_000),
}
STEPS = [1000 * k for k in (1, 2, 4, 8, 16, 33, 66, 143)]


def rows(run, size, params, tokens=(), steps=()):
    """(run, size, params, stage, tokens, step) rows, one per checkpoint."""
    out = [(run, size, params, "PT", t, None) for t in tokens]
    out += [(run, size, params, "PT", None, s) for s in steps]
    return out


def test_family_takes_the_size_out_of_the_name():
    assert family("pythia-1.4b", "1.4B") == family("pythia-410m", "410M") == "pythia"
    assert family("pythia-1.4b-deduped", "1.4B") == "pythia_deduped"
    assert family("pythia-70m-0.25MtokBS", "70M") == "pythia_0_25mtokbs"  # a batch size stays
    assert family("DCLM-Baseline", "1B") == "dclm_baseline"


def test_a_dataset_at_two_sizes_pairs_with_itself_small_to_large():
    tokens = [1e9, 2e9, 4e9, 8e9]
    data = []
    for run in ("data-b", "data-a"):
        data += rows(run, "150M", 150_000_000, tokens) + rows(run, "1B", 1_000_000_000, tokens)
    data += rows("other", "7B", 7_000_000_000, tokens)  # a bigger model, but another dataset
    pair = choose(data)
    assert (pair.x, pair.y) == (
        SideKey("data-a", "150M", 150_000_000),
        SideKey("data-a", "1B", 1_000_000_000),
    )
    assert pair.fits and pair.match == "tokens" and pair.n_points == 4
    # the demo's datasets first, whatever their names sort as
    assert choose(data, prefer_runs=["data-b"]).x.run == "data-b"


def test_pythia_pairs_the_next_size_below_the_largest_in_one_family():
    data = []
    for run, (size, params) in PYTHIA.items():
        data += rows(run, size, params, steps=STEPS)
    pair = choose(data)
    assert pair.fits and pair.match == "step" and pair.n_points == len(STEPS)
    # 12B exists only deduplicated: the deduped family's next size below it is 1.4B
    assert (pair.x.run, pair.y.run) == ("pythia-1.4b-deduped", "pythia-12b-deduped")
    assert pair.x.params < pair.y.params


def test_tokens_are_preferred_to_steps_and_too_few_shared_are_no_fit():
    data = rows("a", "1B", 10**9, tokens=[1, 2, 3], steps=[10, 20, 30])
    data += rows("a", "7B", 7 * 10**9, tokens=[1, 2, 3], steps=[10, 20, 30])
    assert choose(data).match == "tokens"
    data = rows("a", "1B", 10**9, tokens=[1, 2, 5], steps=[10, 20, 30])
    data += rows("a", "7B", 7 * 10**9, tokens=[1, 2, 3], steps=[10, 20, 30])
    assert choose(data).match == "step"
    data = rows("a", "1B", 10**9, tokens=[1, 2, 5]) + rows("a", "7B", 7 * 10**9, tokens=[1, 2, 3])
    assert not choose(data).fits


def test_dclm_like_pools_have_no_fit_but_a_ranking_pair():
    data = []
    for k in range(20):  # 20 pools at 1.4B, 8 of them also at 6.9B, 3 at 412M; one checkpoint
        data += rows(f"pool-{k:02d}", "1.4B", 1_439_795_200, tokens=[28_795_904_000])
        if k < 8:
            data += rows(f"pool-{k:02d}", "6.9B", 6_889_000_000, tokens=[137_900_000_000])
        if k < 3:
            data += rows(f"pool-{k:02d}", "412M", 411_000_000, tokens=[8_200_000_000])
    pair = choose(data)
    assert not pair.fits and pair.n_points == 0 and pair.n_datasets == 8
    assert (pair.x, pair.y) == (
        SideKey("pool-00", "1.4B", 1_439_795_200),
        SideKey("pool-00", "6.9B", 6_889_000_000),
    )
    assert f"every run has fewer than {MIN_POINTS} checkpoints per size" in pair.note
    assert "press t for Ranking: 1.4B ranks the datasets of 6.9B (8 evaluated at both)" in (
        pair.note
    )


def test_one_size_only_is_said_not_fitted_on_itself():
    data = rows("a", "1B", 10**9, tokens=[1, 2, 3, 4]) + rows("b", "1B", 10**9, tokens=[1, 2, 3])
    pair = choose(data)
    assert not pair.fits and pair.x == pair.y  # the screen shows the note, never this fit
    assert "no run was evaluated at two sizes" in pair.note
    assert choose([]) is None


def test_sizes_without_parameters_compare_by_their_labels():
    data = rows("a", "1B", None, tokens=[1, 2, 3]) + rows("a", "150M", None, tokens=[1, 2, 3])
    pair = choose(data)
    assert pair.fits and (pair.x.size, pair.y.size) == ("150M", "1B")
