"""Calibration (METHODS 6): ECE over 15 bins and temperature scaling on hand-made items with
exact expected values, a perfectly calibrated synthetic set, and T recovered from data
generated at a known temperature."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.analysis.calibration import (
    calibrate,
    confidence_correct,
    ece,
    fit_temperature,
    items,
    nll,
    split,
)

L = math.log


def test_ece_hand_made():
    it = items(
        [
            [L(0.95), L(0.05)],  # conf .95, correct
            [L(0.95), L(0.05)],  # conf .95, wrong
            [L(0.3), L(0.7)],  # conf .7, correct
            [L(0.5), L(0.3), L(0.2)],  # three choices: conf .5, correct
        ],
        [0, 1, 1, 0],
    )
    conf, correct = confidence_correct(it)
    assert conf == pytest.approx([0.95, 0.95, 0.7, 0.5])
    assert correct.tolist() == [True, False, True, True]
    e, bins = ece(it)
    # bins (14/15, 1]: acc .5 conf .95; (10/15, 11/15]: 1 vs .7; (7/15, 8/15]: 1 vs .5
    assert e == pytest.approx(2 / 4 * 0.45 + 1 / 4 * 0.3 + 1 / 4 * 0.5)
    assert len(bins) == 15 and sum(b["n"] for b in bins) == 4
    full = {b["bin"]: b for b in bins if b["n"]}
    assert set(full) == {7, 10, 14}
    assert full[14] == {
        "bin": 14,
        "lo": 14 / 15,
        "hi": 1.0,
        "n": 2,
        "acc": 0.5,
        "conf": pytest.approx(0.95),
    }
    assert bins[0]["acc"] is None and bins[0]["conf"] is None


def test_bin_edges_are_right_closed():
    # confidence exactly 1/3 (3 equal choices) sits in (4/15, 5/15]; 1.0 in the last bin
    it = items([[0.0, 0.0, 0.0], [0.0]], [0, 0])
    _, bins = ece(it)
    assert bins[4]["n"] == 1 and bins[14]["n"] == 1


def test_temperature_scaling_hand_made():
    # eight items, each p = (.9, .1): six correct, two wrong. With seed 0 the fit half holds
    # three correct and one wrong, so NLL is minimal where sigmoid(ln 9 / T) = 3/4, T = 2;
    # the evaluation half (3 of 4 correct) goes from ECE |.75 - .9| = .15 to 0.
    ll = [[L(0.9), L(0.1)]] * 8
    gold = [0, 0, 0, 0, 0, 0, 1, 1]
    fit_idx, eval_idx = split(8, 0)
    assert sorted(fit_idx.tolist()) == [2, 3, 4, 6] and sorted(eval_idx.tolist()) == [0, 1, 5, 7]
    it = items(ll, gold)
    assert fit_temperature(it.subset(fit_idx)) == pytest.approx(2.0, abs=1e-4)
    res = calibrate(it, seed=0)
    assert res["temperature"] == pytest.approx(2.0, abs=1e-4)
    assert (res["n_fit"], res["n_eval"], res["n_items"]) == (4, 4, 8)
    assert res["before"]["ece"] == pytest.approx(0.15)
    assert res["after"]["ece"] == pytest.approx(0.0, abs=1e-4)
    assert res["after"]["confidence"] == pytest.approx(0.75, abs=1e-4)
    assert res["all"]["ece"] == pytest.approx(0.9 - 0.75)
    # NLL at T: -(3 ln .75 + ln .25) / 4
    assert res["after"]["nll"] == pytest.approx(-(3 * L(0.75) + L(0.25)) / 4, abs=1e-8)
    assert nll(it.subset(eval_idx)) == pytest.approx(-(3 * L(0.9) + L(0.1)) / 4)


def test_temperature_bounds_and_tiny_sets():
    # all correct: NLL keeps falling as T shrinks, so T runs to the lower bound (where the
    # NLL, e^(-ln 9 / T), is flat to machine precision)
    it = items([[L(0.9), L(0.1)]] * 4, [0] * 4)
    t = fit_temperature(it)
    assert 0.05 <= t < 0.1 and nll(it, t) < 1e-9
    one = calibrate(items([[0.0, -1.0]], [0]))
    assert one["temperature"] is None and one["all"]["ece"] == pytest.approx(
        1 - 1 / (1 + math.e**-1)
    )
    with pytest.raises(ValueError, match="gold index 2"):
        items([[0.0, 1.0]], [2])
    with pytest.raises(ValueError, match="finite"):
        items([[0.0, math.nan]], [0])


def calibrated_set(n: int, seed: int):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.5, 1.0, size=n)
    gold = (rng.uniform(size=n) >= p).astype(int)  # gold = 0 (the argmax) with probability p
    return items(np.stack([np.log(p), np.log1p(-p)], axis=1).tolist(), gold.tolist())


def test_perfectly_calibrated_ece_tends_to_zero():
    small = ece(calibrated_set(2_000, 1))[0]
    large = ece(calibrated_set(200_000, 2))[0]
    assert large < 0.01
    assert large < small


def test_temperature_recovered():
    rng = np.random.default_rng(3)
    n, t_true = 20_000, 1.7
    logits = rng.normal(0.0, 2.0, size=(n, 4))
    z = logits / t_true
    probs = np.exp(z - z.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    gold = (probs.cumsum(axis=1) < rng.uniform(size=(n, 1))).sum(axis=1)
    res = calibrate(items(logits.tolist(), gold.tolist()), seed=7)
    assert res["temperature"] == pytest.approx(t_true, rel=0.03)
    assert res["after"]["ece"] < res["before"]["ece"]
    assert res["after"]["ece"] < 0.02


# -- the split's order and a temperature at a bound ---------------------------------------------
def test_natural_order_of_item_ids():
    from engine.analysis.item_order import natural_order

    ids = ["100", "10", "2", "1", "0", "q10", "q2", "Mercury_12", "Mercury_7"]
    assert [ids[i] for i in natural_order(ids)] == [
        "0",
        "1",
        "2",
        "10",
        "100",
        "Mercury_7",
        "Mercury_12",
        "q2",
        "q10",
    ]
    assert sorted(["0", "1", "10", "100", "2"]) == ["0", "1", "10", "100", "2"]  # text order


def test_a_temperature_at_either_bound_is_flagged():
    from engine.analysis.calibration import T_BOUNDS, at_bound

    # every item right and confident: the NLL falls as T shrinks -> the lower bound
    low = calibrate(items([[L(0.9), L(0.1)]] * 8, [0] * 8), seed=0)
    # every item wrong: the NLL falls as T grows towards uniform -> the upper bound
    high = calibrate(items([[L(0.9), L(0.1)]] * 8, [1] * 8), seed=0)
    assert low["temperature_at_bound"] == "lower"
    assert high["temperature_at_bound"] == "upper"
    assert high["temperature"] == pytest.approx(T_BOUNDS[1], abs=1e-3)
    ok = calibrate(items([[L(0.9), L(0.1)]] * 8, [0, 0, 0, 0, 0, 0, 1, 1]), seed=0)
    assert ok["temperature_at_bound"] is None  # T = 2, inside
    assert at_bound(19.999996) == "upper" and at_bound(19.99) is None
    assert at_bound(0.05001) == "lower" and at_bound(0.06) is None
    assert low["fit_idx"] == [2, 3, 4, 6]  # split(8, 0)'s first half, ascending


def write_samples(folder, order, logliks, gold):
    """A constructed lm-eval samples file with items `order` (doc ids) in that line order."""
    import json

    folder.mkdir(parents=True)
    lines = [
        json.dumps(
            {
                "doc_id": i,
                "target": gold[i],
                "filtered_resps": [[str(v), "False"] for v in logliks[i]],
            }
        )
        for i in order
    ]
    (folder / "samples_arc_easy_2025-01-01T00-00-00.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.parametrize("seed", [0, 5])
def test_the_split_is_the_same_whatever_order_the_rows_were_stored_in(tmp_path, seed):
    from engine.analysis.calibration import split
    from engine.api.analysis_corr import calibration
    from engine.api.results import import_results
    from engine.workspace import Workspace

    rng = np.random.default_rng(11)
    n = 24
    logliks = rng.normal(-2.0, 1.0, size=(n, 3)).tolist()
    gold = rng.integers(0, 3, size=n).tolist()
    orders = {
        "numeric": list(range(n)),
        "reversed": list(range(n))[::-1],
        "shuffled": rng.permutation(n).tolist(),
    }
    results = {}
    for name, order in orders.items():
        ws = Workspace.init(tmp_path / f"ws-{name}")
        run = write_samples(tmp_path / name / "EleutherAI__pythia-160m", order, logliks, gold)
        import_results(ws, [str(run)], "lm-eval")
        results[name] = calibration(ws, "pythia-160m", "arc_easy", seed=seed)
    first = results["numeric"]
    for res in results.values():
        for key in ("fit_items", "temperature", "ece", "ece_scaled", "nll_scaled", "ece_all"):
            assert getattr(res, key) == getattr(first, key)
    # the halves are drawn over the ids in numeric order: "0", "1", "2", ..., "23"
    fit_idx, _ = split(n, seed)
    assert first.fit_items == [str(i) for i in sorted(fit_idx.tolist())]
    text_order = sorted(str(i) for i in range(n))  # "0", "1", "10", "11", ...
    assert set(first.fit_items) != {text_order[i] for i in fit_idx}  # what text order gave
    assert "natural id order" in first.split and f"seed {seed}" in first.split


def test_the_cli_says_the_split_and_a_temperature_at_a_bound(tmp_path, workspace, betr):
    import json

    from engine.api.results import import_results

    ll = [[math.log(0.9), math.log(0.1)]] * 10
    run = write_samples(tmp_path / "r" / "EleutherAI__pythia-160m", range(10), ll, [1] * 10)
    import_results(workspace, [str(run)], "lm-eval")
    code, out, err = betr("calibration", "--run", "pythia-160m", "--benchmark", "arc_easy")
    assert code == 0
    assert "T = 20.000 AT THE UPPER BOUND of [0.05, 20]" in out
    assert "halves: seed 0: numpy default_rng(0).permutation over the 10 items in natural id" in out
    assert "did not converge inside the range" in err
    code, out, _ = betr("calibration", "--run", "pythia-160m", "--benchmark", "arc_easy", "--json")
    res = json.loads(out)
    assert res["temperature_at_bound"] == "upper" and res["bounds"] == [0.05, 20.0]
    assert len(res["fit_items"]) == 5
