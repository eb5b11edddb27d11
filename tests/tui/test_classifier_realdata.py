"""Trust on real data: `betr train` with its defaults on a small real pool (every other doc of
../shared/data/web_docs/combined_docs.jsonl, 1,347 docs of five sources, scored against the
ARC-Easy questions and 300 GSM8K train questions) gives a classifier that ranks, by sklearn's
roc_auc_score on the held-out docs; one forced to learn nothing (--epoch 1 --lr 1e-4) is flagged
in `train`'s output, `runs show/list --json`, `select` (before it writes) and on the Documents,
Threshold and Workspace screens.

One run holds out 135 docs of which 10-20 are positive, so its AUC alone is noisy (chance alone
gives 0.5 +- 0.08; measured on this pool, a run's AUC ranges 0.54-0.74): the default is judged
on six runs that differ only in their seed (their split), the held-out docs pooled (about 80
positive: chance gives 0.5 +- 0.033; the runs measured here pooled to 0.73).
Embedding the pool (3,954 texts) is most of this module's time.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from engine.betr.classifier_health import chance_sd, degenerate_reasons, p_spread
from engine.workspace import Workspace
from tests.helpers import betr, betr_json
from tests.tui.conftest import make_app, wait_until
from tui.screens.threshold.screen import ThresholdScreen
from tui.widgets.tables import KeyedTable

pytestmark = [
    pytest.mark.usefixtures("olmo_wheel"),
    pytest.mark.xdist_group("classifier_realdata"),
    # embedding the pool takes 90 s on 2 idle cores, several minutes beside the rest of the suite
    pytest.mark.timeout(900),
]
DEFAULT_SEEDS = (0, 1, 2, 3, 4, 5)
DEGENERATE = ("--epoch", "1", "--lr", "1e-4")


def every_other_line(src: Path, dst: Path) -> Path:
    with open(src, encoding="utf-8") as fh:
        dst.write_text("".join(line for i, line in enumerate(fh) if i % 2 == 0))
    return dst


def head(src: Path, dst: Path, n: int) -> Path:
    with open(src, encoding="utf-8") as fh:
        dst.write_text("".join(line for _, line in zip(range(n), fh, strict=False)))
    return dst


@pytest.fixture(scope="module")
def pool(tmp_path_factory, shared_data, olmo_wheel):
    """The workspace, the default runs' ids, the forced-degenerate run's id and what its
    `train` printed."""
    tmp = tmp_path_factory.mktemp("classifier-realdata")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        ws = Workspace.init(tmp / "ws")
        web = every_other_line(shared_data / "web_docs/combined_docs.jsonl", tmp / "web.jsonl")
        arc = shared_data / "benchmarks/arc/arc_easy_test.jsonl"  # 2,376 short questions
        gsm = head(shared_data / "benchmarks/gsm8k/train.jsonl", tmp / "gsm.jsonl", 300)
        betr_json(ws, "import", "docs", str(web), "--corpus", "web")
        betr_json(ws, "import", "bench", str(arc), "--name", "arc-easy", "--split", "test")
        betr_json(ws, "import", "bench", str(gsm), "--name", "gsm8k", "--split", "train")
        betr_json(ws, "targets", "create", "t", "--bench", "arc-easy,gsm8k")

        def scored(seed: int) -> int:
            args = ("score", "--corpus", "web", "--targets", "t", "--seed", str(seed))
            return betr_json(ws, *args)["run_id"]  # the first embeds; the others reuse it

        runs = []
        for seed in DEFAULT_SEEDS:
            run_id = scored(seed)
            betr_json(ws, "train", "--run", str(run_id))
            betr_json(ws, "apply", "--run", str(run_id))
            runs.append(run_id)
        bad = scored(len(DEFAULT_SEEDS))
        trained = betr(ws, "train", "--run", str(bad), *DEGENERATE)
        betr_json(ws, "apply", "--run", str(bad))
    return ws, runs, bad, trained


def held_out(ws: Workspace, run_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(label, p) of the run's held-out docs, from the tables (not from the engine)."""
    with closing(sqlite3.connect(f"file:{ws.db_path}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT s.label, p.prob FROM run_sample s JOIN doc_probs p "
            "ON p.run_id = s.run_id AND p.doc_id = s.doc_id "
            "WHERE s.run_id = ? AND s.split = 'valid' ORDER BY s.doc_id",
            (run_id,),
        ).fetchall()
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])


def test_default_train_on_a_small_real_pool_gives_a_classifier_that_ranks(pool):
    ws, runs, _bad, _trained = pool
    labels, probs = [], []
    for run_id in runs:
        run = betr_json(ws, "runs", "show", str(run_id))
        chosen = run["config"]["fasttext"]
        assert chosen["rule"] == "small-set" and chosen["given"] == []
        assert chosen["params"]["epoch"] == 50 and chosen["params"]["bucket"] == 2**14
        clf = run["metrics"]["classifier"]
        label, prob = held_out(ws, run_id)
        assert clf["n"] == len(label) and clf["n_pos"] == int(label.sum())
        assert clf["roc_auc"] == pytest.approx(roc_auc_score(label, prob))  # ours = sklearn's
        assert clf["p_spread"] == pytest.approx(p_spread(prob)) and clf["p_spread"] > 0.1
        model = ws.root / "models" / f"run-{run_id}-fasttext.bin"
        assert model.stat().st_size < 64e6  # 2M buckets wrote 1.0 GB
        labels.append(label)
        probs.append(prob)
        assert run["classifier_warnings"] == [] and degenerate_reasons(clf) == []
    label, prob = np.concatenate(labels), np.concatenate(probs)
    pooled, n_pos = roc_auc_score(label, prob), int(label.sum())
    sd0 = chance_sd(n_pos, len(label) - n_pos)
    # well above chance: more than 2.4 of chance's standard deviations (about 0.08) above 0.5
    assert pooled >= 0.58 and (pooled - 0.5) / sd0 > 2.4, f"AUC {pooled:.3f} on {n_pos} positives"


def test_a_forced_degenerate_classifier_is_flagged_before_anything_is_written(pool, tmp_path):
    ws, _runs, bad, (code, _out, err) = pool
    assert code == 0 and "warning: run" in err and "degenerate classifier" in err
    assert "p(positive) barely varies" in err
    shown = betr_json(ws, "runs", "show", str(bad))
    flagged = [w for w in shown["warnings"] if w.startswith("degenerate classifier")]
    assert flagged == shown["classifier_warnings"] and len(flagged) == 1
    assert shown["config"]["fasttext"]["given"] == ["epoch", "lr"]
    listed = {r["id"]: r for r in betr_json(ws, "runs", "list")}
    assert listed[bad]["classifier_warnings"] == flagged
    out = tmp_path / "kept.jsonl"
    code, _out, err = betr(ws, "select", "--run", str(bad), "--keep", "10%", "--out", str(out))
    assert code == 0 and err.startswith(f"warning: run {bad}: degenerate classifier")
    selected = betr_json(
        ws, "select", "--run", str(bad), "--keep", "10%", "--out", str(tmp_path / "k.jsonl")
    )
    assert selected["warnings"] == flagged


async def test_the_documents_threshold_and_workspace_screens_flag_a_degenerate_classifier(pool):
    ws, _runs, bad, _trained = pool
    app = make_app(ws)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.session.run_id == bad, what="the newest run")
        await pilot.press("3")
        info = lambda: str(app.screen.query_one("#docs-info").content)  # noqa: E731
        await wait_until(pilot, lambda: "docs" in info() and app.screen.SCOPE == "documents")
        await wait_until(pilot, lambda: "⚠ degenerate classifier" in info(), what="the flag")
        await pilot.press("4")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, ThresholdScreen) and app.screen.stats is not None,
            what="threshold numbers",
        )
        line = app.screen.query_one("#th-classifier-warning")
        assert line.display and "⚠ degenerate classifier" in str(line.content)
        await pilot.press("1")
        await wait_until(pilot, lambda: getattr(app.screen, "data", None), what="workspace")
        runs = app.screen.query_one("#table-runs", KeyedTable)
        runs.focus()
        row = runs.get_row_at(0)  # newest first: the degenerate run
        assert str(row[0]) == str(bad) and "⚠ degenerate" in str(row[3])
        detail = lambda: str(app.screen.query_one("#ws-detail").content)  # noqa: E731
        await wait_until(pilot, lambda: detail().startswith("⚠ degenerate classifier"))
