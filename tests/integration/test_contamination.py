"""`betr contamination` and `betr select --decontaminate` as a user runs them: benchmark items
planted in a run's docs (an exact copy, another case and punctuation, across line breaks, a
12-gram, one outside the kept set) come back exactly, with their spans; a clean pool has none;
a check that dies half way is never read as a result and resumes to the same rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.synth_run import make_synthetic_run
from engine.api import contamination as api
from engine.api.select import select
from engine.workspace import Workspace
from tests.helpers import betr, betr_json

NATO = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
    "oscar papa quebec romeo sierra tango"
).split()
PLANETS = (
    "mercury venus earth mars jupiter saturn uranus neptune pluto ceres eris haumea makemake "
    "sedna quaoar orcus"
).split()
GREEK = "gamma epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma".split()
MONTHS = (
    "january february march april may june july august september october sunday december "
    "monday tuesday wednesday thursday"
).split()
TREES = "oak pine birch maple cedar elm ash willow poplar spruce fir yew beech alder".split()
Q_EXACT = " ".join(NATO)  # 20 words
Q_CASE = " ".join(PLANETS)  # 16
Q_BREAK = " ".join(GREEK)  # 15
Q_12 = " ".join(MONTHS)  # 16: the doc shares its first 12 words only
Q_FAR = " ".join(TREES)  # 14, in a doc outside the kept set
T_1 = "red orange yellow green blue indigo violet black white grey brown pink cyan teal"

CASE_VARIANT = (
    "MERCURY, Venus; EARTH mars... jupiter (saturn) URANUS neptune. Pluto ceres \u2014 eris haumea "
    'MAKEMAKE sedna "quaoar" Orcus'
)
BREAK_VARIANT = (
    "gamma epsilon zeta\neta theta iota kappa\r\n\tlambda mu nu\n\nxi omicron pi rho sigma"
)
K1_TEXT = f"Preface. {Q_EXACT} and also {T_1} done."
K2_TEXT = f"Hmm: {CASE_VARIANT}?!"
K3_TEXT = f"Notes\n{BREAK_VARIANT}\nend"
K4_TEXT = " ".join(MONTHS[:12]) + " stop here and talk about something else entirely now"
N1_TEXT = f"Far down the list: {Q_FAR}."


def replace_text(ws: Workspace, doc_id: int, text: str) -> None:
    """A doc's text rewritten in place (keeping its full-text index in step)."""
    conn = ws.connect()
    try:
        (old,) = conn.execute("SELECT text FROM docs WHERE id = ?", (doc_id,)).fetchone()
        conn.execute(
            "INSERT INTO docs_fts(docs_fts, rowid, text) VALUES ('delete', ?, ?)", (doc_id, old)
        )
        conn.execute("UPDATE docs SET text = ? WHERE id = ?", (text, doc_id))
        conn.execute("INSERT INTO docs_fts(rowid, text) VALUES (?, ?)", (doc_id, text))
    finally:
        conn.close()


def plant(ws: Workspace, tmp: Path, run_id: int) -> dict[str, dict]:
    """The planted docs (by role: their id, ext id, position, tokens) and the two benchmarks."""
    conn = ws.connect(readonly=True)
    try:
        kept = select(conn, run_id, 0.10, "tokens").position
        order = conn.execute(
            "SELECT o.position, o.doc_id, d.ext_id, d.n_tokens FROM prob_order o "
            "JOIN docs d ON d.id = o.doc_id WHERE o.run_id = ? ORDER BY o.position",
            (run_id,),
        ).fetchall()
    finally:
        conn.close()
    assert kept >= 5
    roles = {"k1": 0, "k2": 1, "k3": 2, "k4": 3, "n1": kept + 20}
    texts = {"k1": K1_TEXT, "k2": K2_TEXT, "k3": K3_TEXT, "k4": K4_TEXT, "n1": N1_TEXT}
    docs = {}
    for role, i in roles.items():
        position, doc_id, ext_id, n_tokens = order[i]
        replace_text(ws, doc_id, texts[role])
        docs[role] = {"id": doc_id, "ext": ext_id, "position": position, "tokens": n_tokens}
    quiz = [("q-exact", Q_EXACT), ("q-case", Q_CASE), ("q-break", Q_BREAK), ("q-12", Q_12)]
    quiz.append(("q-far", Q_FAR))
    write_bench(tmp / "quiz.jsonl", quiz)
    write_bench(tmp / "drill.jsonl", [("t-1", T_1)])
    assert (
        betr(
            ws,
            "import",
            "bench",
            str(tmp / "quiz.jsonl"),
            "--name",
            "quiz",
            "--split",
            "test",
            "--format",
            "gsm8k",
        )[0]
        == 0
    )
    assert (
        betr(
            ws,
            "import",
            "bench",
            str(tmp / "drill.jsonl"),
            "--name",
            "drill",
            "--split",
            "train",
            "--format",
            "gsm8k",
        )[0]
        == 0
    )
    docs["kept"] = {"count": kept, "order": order}
    return docs


def write_bench(path: Path, items: list[tuple[str, str]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for ext_id, question in items:
            fh.write(json.dumps({"id": ext_id, "question": question, "answer": "#### 42"}) + "\n")


def row(doc: dict, benchmark: str, example: str, text: str, copy: str, words: int, n: int = 13):
    start = text.index(copy)
    return {
        "doc": doc["ext"],
        "benchmark": benchmark,
        "example": example,
        "start": start,
        "end": start + len(copy),
        "ngrams": words - n + 1,
    }


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("contamination")
    ws = Workspace.init(tmp / "ws")
    run_id = make_synthetic_run(ws, 400, seed=11)
    docs = plant(ws, tmp, run_id)
    clean_run = make_synthetic_run(ws, 200, seed=12, corpus="clean", targets="clean-targets")
    return ws, run_id, docs, clean_run


def expected(docs: dict, n: int = 13, *, whole_pool: bool = False) -> list[dict]:
    k1, k2, k3, k4, n1 = (docs[r] for r in ("k1", "k2", "k3", "k4", "n1"))
    rows = [
        row(k1, "quiz", "q-exact", K1_TEXT, Q_EXACT, 20, n),
        row(k2, "quiz", "q-case", K2_TEXT, CASE_VARIANT, 16, n),
        row(k3, "quiz", "q-break", K3_TEXT, BREAK_VARIANT, 15, n),
    ]
    if n <= 12:
        rows.append(row(k4, "quiz", "q-12", K4_TEXT, " ".join(MONTHS[:12]), 12, n))
    if whole_pool:
        rows.append(row(n1, "quiz", "q-far", N1_TEXT, Q_FAR, 14, n))
    return [*rows, row(k1, "drill", "t-1", K1_TEXT, T_1, 14, n)]  # train splits last


def test_planted_overlaps_are_found_exactly_with_their_spans(planted):
    ws, run_id, docs, _ = planted
    rows = betr_json(ws, "contamination", "--run", str(run_id))
    assert rows == expected(docs)
    assert all(list(r) == ["doc", "benchmark", "example", "start", "end", "ngrams"] for r in rows)
    # the spans are the planted text, case, punctuation and line breaks as they are in the doc
    assert K2_TEXT[rows[1]["start"] : rows[1]["end"]] == CASE_VARIANT
    assert "\r\n\t" in K3_TEXT[rows[2]["start"] : rows[2]["end"]]


def test_the_whole_pool_and_other_n(planted):
    ws, run_id, docs, _ = planted
    assert betr_json(ws, "contamination", "--run", str(run_id), "--all") == expected(
        docs, whole_pool=True
    )
    # the 12-gram: not at 13 (above), found at 12, with every other overlap one n-gram longer
    assert betr_json(ws, "contamination", "--run", str(run_id), "--n", "12") == expected(docs, 12)
    # the kept set again: read from the whole-pool check, not checked again
    code, out, err = betr(ws, "contamination", "--run", str(run_id))
    assert code == 0, err
    assert "(cached check)" in out and "checking" not in err
    assert "doc-" in out and "q-exact" in out


def test_two_worker_processes_find_the_same_rows(planted, monkeypatch):
    from engine.jobs.kinds import contamination as kind

    ws, run_id, docs, _ = planted
    monkeypatch.setattr(kind, "CHUNK_DOCS", 100)
    rows = betr_json(
        ws, "contamination", "--run", str(run_id), "--all", "--n", "14", "--workers", "2"
    )
    assert rows == expected(docs, 14, whole_pool=True)
    check = api.current_check(ws, run_id, n=14)
    assert check.upto == 400
    assert betr_json(ws, "jobs", "show", str(check.job_id))["result"]["workers"] == 2


def test_a_clean_pool_has_no_hits(planted):
    ws, _, _, clean_run = planted
    assert betr_json(ws, "contamination", "--run", str(clean_run), "--all") == []
    code, out, _ = betr(ws, "contamination", "--run", str(clean_run))
    assert code == 0 and "no overlaps" in out and "0 overlap(s) in 0 doc(s)" in out


def test_decontaminate_drops_the_contaminated_kept_docs(planted, tmp_path):
    ws, run_id, docs, _ = planted
    kept = docs["kept"]["order"][: docs["kept"]["count"]]
    dirty = {docs[r]["id"] for r in ("k1", "k2", "k3")}  # k4 shares 12 words only; n1 not kept
    want = [r[2] for r in kept if r[1] not in dirty]
    dropped_tokens = sum(r[3] for r in kept if r[1] in dirty)
    out = tmp_path / "clean.jsonl"
    code, text, err = betr(
        ws, "select", "--run", str(run_id), "--keep", "10%", "--decontaminate", "--out", str(out)
    )
    assert code == 0, err
    assert f"dropped 3 contaminated docs ({dropped_tokens} tokens)" in text
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == want
    result = betr_json(
        ws, "select", "--run", str(run_id), "--keep", "10%", "--decontaminate", "--out", str(out)
    )
    assert (result["dropped_docs"], result["dropped_tokens"]) == (3, dropped_tokens)
    assert result["rows"] == len(want) == result["kept_docs"] - 3
    # the plain select is unchanged
    plain = betr_json(ws, "select", "--run", str(run_id), "--keep", "10%", "--out", str(out))
    assert plain["rows"] == len(kept) and "dropped_docs" not in plain
    # replay docs come from the clean non-kept docs (a whole-pool check): never n1
    result = betr_json(
        ws,
        "select",
        "--run",
        str(run_id),
        "--keep",
        "10%",
        "--decontaminate",
        "--replay",
        "1.0",
        "--out",
        str(out),
    )
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert result["replay_docs"] == len(want) and docs["n1"]["ext"] not in ids
    assert ids[: len(want)] == want


def test_the_api_the_tui_reads(planted):
    ws, run_id, docs, _ = planted
    betr_json(ws, "contamination", "--run", str(run_id))  # (cached when a test ran it before)
    check = api.current_check(ws, run_id, keep=0.10)
    assert check is not None and check.finished and check.current
    assert api.contaminated_doc_ids(ws, run_id, n=13, keep=0.10) == {
        docs[r]["id"] for r in ("k1", "k2", "k3")
    }
    counts = api.counts_by_benchmark(ws, run_id, n=13, keep=0.10)
    assert [(c.benchmark, c.evaluation, c.docs, c.examples, c.hits) for c in counts] == [
        ("quiz", True, 3, 3, 3),
        ("drill", False, 1, 1, 1),
    ]
    seen = api.hits_for_doc(ws, run_id, docs["k1"]["id"], n=13)
    assert seen.checked and [(h.benchmark, h.example, h.span) for h in seen.hits] == [
        ("quiz", "q-exact", Q_EXACT),
        ("drill", "t-1", T_1),
    ]
    assert seen.hits[0].question == Q_EXACT and seen.hits[0].example_text.startswith(Q_EXACT)
    clean = api.hits_for_doc(ws, run_id, docs["kept"]["order"][6][1], n=13)
    assert clean.checked and clean.hits == []


def test_bad_n_and_missing_checks_say_what_to_run(planted):
    ws, run_id, _, clean_run = planted
    code, _, err = betr(ws, "contamination", "--run", str(run_id), "--n", "51")
    assert code == 2 and "--n must be a whole number of words from 8 to 50, got 51" in err
    assert "fix: e.g. --n 13" in err
    code, _, err = betr(ws, "contamination", "--run", str(run_id), "--all", "--keep", "5%")
    assert code == 2 and "leave out --keep" in err
    code, _, err = betr(
        ws, "select", "--run", str(run_id), "--keep", "5%", "--n", "9", "--out", "x.jsonl"
    )
    assert code == 2 and "--n goes with --decontaminate" in err
    with pytest.raises(Exception, match=f"betr contamination --run {clean_run} --n 20"):
        api.contamination_hits(ws, clean_run, n=20)


def test_a_check_that_dies_half_way_resumes_to_the_same_rows(tmp_path, monkeypatch):
    from engine.jobs.kinds import contamination as kind
    from engine.ops.contamination import FindOverlaps

    ws = Workspace.init(tmp_path / "ws")
    run_id = make_synthetic_run(ws, 400, seed=11)
    docs = plant(ws, tmp_path, run_id)
    monkeypatch.setattr(kind, "CHUNK_DOCS", 50)
    real_call = FindOverlaps.__call__
    calls = {"n": 0}

    def dies_on_the_fourth_batch(self, batch):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("worker lost")
        return real_call(self, batch)

    monkeypatch.setattr(FindOverlaps, "__call__", dies_on_the_fourth_batch)
    code, _, err = betr(ws, "contamination", "--run", str(run_id), "--all")
    assert code == 1 and "worker lost" in err
    (check,) = api.checks(ws, run_id)
    assert not check.finished and check.job_state == "failed"
    with pytest.raises(Exception, match="no finished contamination check"):
        api.contamination_hits(ws, run_id)
    conn = ws.connect(readonly=True)
    stored = conn.execute("SELECT MAX(position) FROM contamination_hits").fetchone()[0]
    conn.close()
    assert stored <= 150  # three chunks of 50 committed, nothing of the fourth
    monkeypatch.setattr(FindOverlaps, "__call__", real_call)
    code, _, err = betr(ws, "jobs", "resume", str(check.job_id))
    assert code == 0, err
    assert betr_json(ws, "contamination", "--run", str(run_id), "--all") == expected(
        docs, whole_pool=True
    )
    # a corpus delete takes the checks and their hits with it
    assert betr(ws, "delete", "corpus", "synthetic")[0] == 0
    conn = ws.connect(readonly=True)
    left = [
        conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("contamination_checks", "contamination_hits")
    ]
    conn.close()
    assert left == [0, 0]
