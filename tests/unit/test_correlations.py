"""Correlation protocols (METHODS 4) on synthetic data with a planted structure, each number
checked against scipy.stats computed here; n/a rules; pairwise-complete missing values;
duplicates and one-stage benchmarks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from engine.analysis.correlations.request import CorrRequest
from engine.analysis.correlations.run import run as run_protocol
from engine.analysis.correlations.stats import Corr, block, corr, structural_persistence, tier
from engine.errors import InputError, UsageError

CATS = {
    "arc": "science",
    "sciq": "science",
    "obqa": "science",
    "hellaswag": "commonsense",
    "piqa": "commonsense",
    "flat": "misc",
}
SHARES = (0.25, 0.35, 0.45)


def run(rows, protocol: str = "matrix", **params):
    """The protocol's result in its JSON shape (`betr corr --json`)."""
    return run_protocol(rows, CorrRequest(protocol, **params)).to_json()


def synth(n_runs: int = 12, seed: int = 0, nan_at: tuple | None = ("240M", "PT", "arc", 3)):
    """Runs x benchmarks at two scales and two stages: one latent quality per run drives every
    benchmark (planted positive correlations); SFT = PT + small noise except piqa (SFT is
    independent noise: no transfer); 'flat' is constant (n/a); one NaN value."""
    rng = np.random.default_rng(seed)
    rows, values = [], {}
    for scale, params in (("240M", 240_000_000), ("1B", 1_000_000_000)):
        z = rng.normal(size=n_runs)
        for i in range(n_runs):
            run_name = f"mix{i:02d}"
            attrs = {"code_share": SHARES[i % 3], "web": ("rw", "fwe", "dclm")[i // 4 % 3]}
            for b in CATS:
                base = 0.5 + 0.05 * z[i] + 0.02 * rng.normal()
                for stage in ("PT", "SFT"):
                    acc = base + (0.01 * rng.normal() if stage == "SFT" else 0.0)
                    if b == "piqa" and stage == "SFT":
                        acc = 0.5 + 0.05 * rng.normal()
                    if b == "flat":
                        acc = 0.25
                    conf = 0.8 * acc + 0.01 * rng.normal()
                    if nan_at == (scale, stage, b, i):
                        acc = math.nan
                    for metric, v in (("acc", acc), ("confidence", conf)):
                        values[(scale, stage, b, metric, run_name)] = v
                        rows.append(
                            dict(
                                run=run_name,
                                size=scale,
                                params=params,
                                stage=stage,
                                benchmark=b,
                                category=CATS[b],
                                metric=metric,
                                value=v,
                                attrs=attrs,
                            )
                        )
    return rows, values


RUNS = [f"mix{i:02d}" for i in range(12)]


def vec(values, scale, stage, b, metric="acc", runs=RUNS):
    return np.array([values[(scale, stage, b, metric, r)] for r in runs])


def ref(x, y, method="pearson") -> tuple[float | None, float | None, int]:
    """scipy on the pairwise-complete values; (None, None, n) under the n/a rules."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None, None, len(x)
    res = (stats.pearsonr if method == "pearson" else stats.spearmanr)(x, y)
    return float(res.statistic), float(res.pvalue), len(x)


def same(got: Corr | tuple, want: tuple) -> None:
    r, p, n = (got.r, got.p, got.n) if isinstance(got, Corr) else got
    assert n == want[2]
    if want[0] is None:
        assert r is None and p is None
    else:
        assert r == pytest.approx(want[0], rel=1e-9, abs=1e-12)
        assert p == pytest.approx(want[1], rel=1e-7, abs=1e-300)


# -- n/a rules and missing values --------------------------------------------------------------
def test_two_points_constant_and_nan():
    assert corr([1, 2], [3, 5]) == Corr(None, None, 2, 0)
    assert corr([1, 2, 3, 4], [2, 2, 2, 2]) == Corr(None, None, 4, 0)
    c = corr([1, 2, math.nan, 4, 5, 6], [2, 1, 4, math.nan, 7, 9])
    assert (c.n, c.dropped) == (4, 2)
    same(c, ref([1, 2, 5, 6], [2, 1, 7, 9]))
    # NaN leaving two points: n/a, with both drops counted
    assert corr([1, math.nan, 3, 4], [1, 2, math.nan, 5]) == Corr(None, None, 2, 2)
    # constant only over the complete pairs is constant too
    assert corr([1, 1, 1, 9], [1, 2, 3, math.nan]).r is None


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_block_matches_scipy_pairwise(method):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(15, 5))
    b = a @ rng.normal(size=(5, 4)) + rng.normal(size=(15, 4))
    a[:, 2] = 7.0  # constant column
    a[4, 1] = np.nan
    b[0, 3] = np.nan
    b[5, 3] = np.nan
    m = block(a, b, list("abcde"), list("wxyz"), method)
    for i in range(5):
        for j in range(4):
            same(m.cell(i, j), ref(a[:, i], b[:, j], method))
    d = m.as_dict()
    assert d["r"][2] == [None] * 4 and d["p"][2] == [None] * 4
    assert d["n"][1][3] == 12 and d["n"][0][0] == 15


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_block_vectorized_paths_match_scipy_per_pair(method):
    """The np.corrcoef path (complete columns; x with itself too) and the all-pairs-at-once
    path (missing values) against scipy per pair, to 1e-10; n/a for constant vectors (also
    constant only over the pairwise-complete runs), n < 3, an all-missing column."""
    rng = np.random.default_rng(7)
    z = rng.normal(size=40)
    x = 0.5 + 0.05 * z[:, None] * rng.uniform(0.2, 1, 9) + 0.02 * rng.normal(size=(40, 9))
    x[:, 1] = np.round(x[:, 1], 2)  # ties (Spearman's average ranks)
    x[:, 2] = 0.25  # constant
    x[rng.choice(40, 6, replace=False), 3] = np.nan
    x[rng.choice(40, 9, replace=False), 4] = np.nan
    x[:, 5] = np.where(np.arange(40) < 20, 0.3, np.nan)  # constant where present
    x[:, 6] = np.nan
    x[:2, 6] = (0.1, 0.2)  # two values: n < 3 with every column
    x[:, 7] = np.where(np.arange(40) < 30, 0.4, x[:, 7])  # constant over runs 0-29 only
    x[30:, 8] = np.nan  # complete over runs 0-29 only: with column 7 a constant pair
    names = [f"b{i}" for i in range(9)]
    y = x[:, ::-1] + 0.01 * rng.normal(size=(40, 9))
    for a, b in ((x, x), (x, y)):
        m = block(a, b, names, names, method)
        d = m.as_dict()
        for i in range(9):
            for j in range(9):
                want = ref(a[:, i], b[:, j], method)
                got = (d["r"][i][j], d["p"][i][j], d["n"][i][j])
                assert got[2] == want[2]
                if want[0] is None:
                    assert got[:2] == (None, None)
                    continue
                assert abs(got[0] - want[0]) < 1e-10 and abs(got[1] - want[1]) < 1e-10
                if abs(want[0]) < 1 - 1e-12:  # p of r = 1 - 1 ulp is ~1e-200, not 0
                    same(got, want)
    m = block(x, x, names, names, method).as_dict()
    assert m["r"][2] == [None] * 9 and m["r"][6] == [None] * 9 and m["r"][7][8] is None
    assert m["n"][3][4] == 40 - len(
        {*np.flatnonzero(np.isnan(x[:, 3])), *np.flatnonzero(np.isnan(x[:, 4]))}
    )


# -- the protocols against scipy ----------------------------------------------------------------
@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_cross_stage_and_tiers(method):
    rows, v = synth()
    res = run(rows, "cross-stage", method=method)
    assert (res["axis"], res["pt"], res["sft"], res["contexts"]) == (
        "stage",
        "PT",
        "SFT",
        ["240M", "1B"],
    )
    assert len(res["rows"]) == 12
    for r in res["rows"]:
        s, b = r["scale"], r["benchmark"]
        same(
            (r["r_acc"], r["p_acc"], r["n_acc"]),
            ref(vec(v, s, "PT", b), vec(v, s, "SFT", b), method),
        )
        want = ref(vec(v, s, "PT", b, "confidence"), vec(v, s, "SFT", b, "confidence"), method)
        same((r["r_conf"], r["p_conf"], r["n_conf"]), want)
    by = {(r["scale"], r["benchmark"]): r for r in res["rows"]}
    assert by[("240M", "arc")]["n_acc"] == 11  # the NaN, dropped and counted
    assert by[("240M", "flat")]["r_acc"] is None  # constant benchmark
    assert by[("1B", "hellaswag")]["r_acc"] > 0.9  # planted transfer
    m = res["means"][0]
    known = [by[("240M", b)]["r_acc"] for b in CATS if by[("240M", b)]["r_acc"] is not None]
    assert m["mean_r_acc"] == pytest.approx(np.mean(known)) and m["n_acc"] == len(known) == 5
    tiers = {r["benchmark"]: r for r in run(rows, "tiers", method=method)["rows"]}
    for b, t in tiers.items():
        assert t["tier"] == tier(t["r_acc"], t["r_conf"])
        assert t["r_acc"] == [by[(s, b)]["r_acc"] for s in ("240M", "1B")]
    assert tiers["hellaswag"]["tier"] == "highly reliable"
    assert tiers["piqa"]["tier"] == "unreliable"  # planted: no transfer


def test_tier_rules():
    assert tier([0.7, 0.9], [0.61, 0.8]) == "highly reliable"
    assert tier([0.7, 0.9], [0.6, 0.8]) == "moderate"  # > 0.6 is strict
    assert tier([0.7, 0.29], [0.9, 0.9]) == "unreliable"
    assert tier([0.7, None], [0.1, 0.9]) == "unreliable"
    assert tier([0.7, None], [0.9, 0.9]) == "n/a"
    assert tier([0.3, 0.5], [0.9, 0.9]) == "moderate"


def test_matrices_and_structural_persistence():
    rows, v = synth()
    res = run(rows, "matrix")
    kinds = [(m["kind"], m["scale"]) for m in res["matrices"]]
    assert kinds == [
        ("PT-PT", "240M"),
        ("SFT-SFT", "240M"),
        ("PT->SFT", "240M"),
        ("PT-PT", "1B"),
        ("SFT-SFT", "1B"),
        ("PT->SFT", "1B"),
    ]
    cross = {(r["scale"], r["benchmark"]): r for r in run(rows, "cross-stage")["rows"]}
    for m in res["matrices"]:
        # grouped by category: commonsense, misc, science
        assert m["rows"] == ["hellaswag", "piqa", "flat", "arc", "obqa", "sciq"] == m["cols"]
        st_i, st_j = {"PT-PT": ("PT", "PT"), "SFT-SFT": ("SFT", "SFT"), "PT->SFT": ("PT", "SFT")}[
            m["kind"]
        ]
        for i, bi in enumerate(m["rows"]):
            for j, bj in enumerate(m["cols"]):
                want = ref(vec(v, m["scale"], st_i, bi), vec(v, m["scale"], st_j, bj))
                same((m["r"][i][j], m["p"][i][j], m["n"][i][j]), want)
            if m["kind"] == "PT->SFT":  # diagonal = cross-stage
                assert m["r"][i][i] == pytest.approx(cross[(m["scale"], bi)]["r_acc"]) or (
                    m["r"][i][i] is None and cross[(m["scale"], bi)]["r_acc"] is None
                )
    for p, (pp, ss) in zip(res["persistence"], [(0, 1), (3, 4)], strict=True):
        a, b = res["matrices"][pp], res["matrices"][ss]
        iu = np.triu_indices(6, k=1)
        ua = np.array(
            [np.nan if x is None else x for x in np.array(a["r"], dtype=object)[iu]], float
        )
        ub = np.array(
            [np.nan if x is None else x for x in np.array(b["r"], dtype=object)[iu]], float
        )
        same((p["r"], p["p"], p["n"]), ref(ua, ub))
        assert p["n"] == 10 and p["dropped"] == 5  # the 5 pairs with the constant benchmark


def test_structural_persistence_needs_same_benchmarks():
    a = block(np.eye(4)[:, :3], np.eye(4)[:, :3], ["x", "y", "z"], ["x", "y", "z"])
    b = block(np.eye(4)[:, :3], np.eye(4)[:, :3], ["x", "z", "y"], ["x", "z", "y"])
    with pytest.raises(ValueError):
        structural_persistence(a, b)


def test_coherence_three_protocols():
    rows, v = synth()
    res = run(rows, "coherence")
    got = {(r["scale"], r["protocol"], r["category"]): r for r in res["rows"]}
    assert ("240M", "PT", "misc") not in got  # one benchmark: no pair
    for scale in ("240M", "1B"):
        for proto, (si, sj) in (
            ("PT", ("PT", "PT")),
            ("SFT", ("SFT", "SFT")),
            ("cross-stage", ("PT", "SFT")),
        ):
            for cat in ("science", "commonsense"):
                bms = sorted(b for b in CATS if CATS[b] == cat)
                pairs = [
                    (x, y)
                    for x in bms
                    for y in bms
                    if (x != y if proto == "cross-stage" else x < y)
                ]
                rs = [ref(vec(v, scale, si, x), vec(v, scale, sj, y))[0] for x, y in pairs]
                row = got[(scale, proto, cat)]
                assert row["n_pairs"] == len(pairs) and row["n_na"] == 0
                assert row["mean_r"] == pytest.approx(np.mean(rs), rel=1e-9)
    assert got[("1B", "PT", "science")]["mean_r"] > 0.8  # planted synergy


def test_alignment_by_category_attribute_and_persistence():
    rows, v = synth()
    res = run(rows, "align", attribute="web")
    per = {(r["stage"], r["scale"], r["run"], r["category"]): r for r in res["rows"]}
    sci = ["arc", "obqa", "sciq"]
    for stage in ("PT", "SFT"):
        for run_name in RUNS:
            a = [v[("1B", stage, b, "acc", run_name)] for b in sci]
            c = [v[("1B", stage, b, "confidence", run_name)] for b in sci]
            r = per[(stage, "1B", run_name, "science")]
            same((r["r"], r["p"], r["n"]), ref(a, c))
            allb = sorted(CATS)
            a = [v[("1B", stage, b, "acc", run_name)] for b in allb]
            c = [v[("1B", stage, b, "confidence", run_name)] for b in allb]
            same(tuple(per[(stage, "1B", run_name, "(all)")][k] for k in "rpn"), ref(a, c))
    assert per[("PT", "1B", "mix00", "commonsense")]["r"] is None  # two benchmarks: n/a
    cat = {(r["stage"], r["scale"], r["category"]): r for r in res["by_category"]}
    want = [per[("SFT", "240M", rn, "science")]["r"] for rn in RUNS]
    assert cat[("SFT", "240M", "science")]["mean_r"] == pytest.approx(np.mean(want))
    attr = {(r["stage"], r["scale"], r["value"], r["category"]): r for r in res["by_attribute"]}
    fwe = [rn for i, rn in enumerate(RUNS) if i // 4 % 3 == 1]
    want = [per[("PT", "1B", rn, "science")]["r"] for rn in fwe]
    assert attr[("PT", "1B", "fwe", "science")]["mean_r"] == pytest.approx(np.mean(want))
    assert attr[("PT", "1B", "fwe", "science")]["n_runs"] == 4
    pers = {(r["scale"], r["category"]): r for r in res["persistence"]}
    x = [per[("PT", "1B", rn, "science")]["r"] for rn in RUNS]
    y = [per[("SFT", "1B", rn, "science")]["r"] for rn in RUNS]
    same(tuple(pers[("1B", "science")][k] for k in "rpn"), ref(x, y))


def test_attribute_effects():
    rows, v = synth()
    res = run(rows, "attribute", attribute="code_share", stage="PT", scale="1B")
    x = [SHARES[i % 3] for i in range(12)]
    got = {(r["kind"], r["target"]): r for r in res["rows"]}
    assert {r["scale"] for r in res["rows"]} == {"1B"}
    for b in CATS:
        same(tuple(got[("benchmark", b)][k] for k in "rpn"), ref(x, vec(v, "1B", "PT", b)))
    sci_mean = np.mean([vec(v, "1B", "PT", b) for b in ("arc", "obqa", "sciq")], axis=0)
    same(tuple(got[("category", "science")][k] for k in "rpn"), ref(x, sci_mean))
    # the NaN at 240M PT arc drops run 3 from the science mean
    res = run(rows, "attribute", attribute="code_share", stage="PT", scale="240M")
    row = next(r for r in res["rows"] if r["target"] == "science")
    assert (row["n"], row["dropped"]) == (11, 1)
    with pytest.raises(InputError, match="not numeric"):
        run(rows, "attribute", attribute="web")
    with pytest.raises(UsageError, match="no run has the attribute"):
        run(rows, "attribute", attribute="nope")


# -- pairing, duplicates, one-stage benchmarks ---------------------------------------------------
def test_scales_pair_when_one_stage_and_explicit_pt_sft():
    rows, v = synth()
    pt_only = [dict(r, stage=None) for r in rows if r["stage"] == "PT"]
    res = run(pt_only, "cross-stage")
    assert (res["axis"], res["pt"], res["sft"]) == ("scale", "240M", "1B")
    r = next(x for x in res["rows"] if x["benchmark"] == "sciq")
    same(
        (r["r_acc"], r["p_acc"], r["n_acc"]),
        ref(vec(v, "240M", "PT", "sciq"), vec(v, "1B", "PT", "sciq")),
    )
    res = run(rows, "cross-stage", stage="SFT", pt="1B", sft="240M")
    assert (res["axis"], res["contexts"]) == ("scale", ["1B->240M (SFT)"])
    with pytest.raises(UsageError, match="needs one stage"):
        run(rows, "cross-stage", pt="1B", sft="240M")
    with pytest.raises(UsageError, match="no stage or scale"):
        run(rows, "cross-stage", pt="PT", sft="RL")
    one = [r for r in pt_only if r["size"] == "1B"]
    assert run(one, "matrix")["matrices"][0]["kind"] == "within"
    with pytest.raises(UsageError, match="needs two stages or two scales"):
        run(one, "cross-stage")


def test_duplicates_are_an_error_naming_them():
    rows, _ = synth()
    dup = [*rows, dict(rows[0], value=0.9)]
    with pytest.raises(InputError, match="run 'mix00', scale 240M, stage PT, benchmark 'arc'"):
        run(dup, "matrix")
    # several checkpoints: an error unless checkpoint="last" keeps the last one
    ckpt = [dict(r, tokens=2_000) for r in rows] + [dict(rows[0], tokens=1_000, value=0.1)]
    with pytest.raises(InputError, match="checkpoint last"):
        run(ckpt, "matrix")
    a = run(ckpt, "matrix", checkpoint="last")["matrices"]
    b = run(rows, "matrix")["matrices"]
    assert a == b


def test_benchmark_in_one_stage_only_is_reported():
    rows, _ = synth()
    rows = [r for r in rows if not (r["benchmark"] == "obqa" and r["stage"] == "SFT")]
    res = run(rows, "cross-stage")
    assert {r["benchmark"] for r in res["rows"]} == set(CATS) - {"obqa"}
    assert {(s["scale"], s["benchmark"], s["present"], s["missing"]) for s in res["one_sided"]} == {
        ("240M", "obqa", "PT 240M", "SFT 240M"),
        ("1B", "obqa", "PT 1B", "SFT 1B"),
    }
    assert any("obqa" in n for n in res["notes"])
