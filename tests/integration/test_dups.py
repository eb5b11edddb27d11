"""`betr dups` and `betr select --dedup` as a user runs them: a pool with planted copies (another
case and spacing, a few words changed, paragraphs reordered, punctuation added) comes back as
exactly those clusters and no pair among the distinct docs, with either shingle hash; the
export keeps one per cluster (the highest p) and says what it dropped; a near-duplicate job
that dies half way is never read as a result and resumes to the same clusters; bad input
exits 2 with a fix; the real web docs' repeated texts are found."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest

from bench.synth_run import make_synthetic_run
from engine.workspace import Workspace
from tests.helpers import betr, betr_json, shared_data_dir
from tests.integration.test_contamination import replace_text

PARAGRAPH_WORDS = 100


def paragraphs(rng: random.Random, n: int = 4) -> list[list[str]]:
    """n paragraphs of random 5-letter words (no digits: MinHash's normalisation makes every
    number 0), so distinct docs share no 5-gram."""
    return [[word(rng) for _ in range(PARAGRAPH_WORDS)] for _ in range(n)]


def word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(5))


def text_of(paras: list[list[str]], sep: str = "\n\n") -> str:
    return sep.join(" ".join(p) for p in paras)


def planted_texts(seed: int = 5, distinct: int = 40) -> tuple[dict[str, str], list, list]:
    """{ext id: text}, the exact clusters and the near clusters (lists of ext ids)."""
    rng = random.Random(seed)
    base = {f"b{i:02d}": paragraphs(rng) for i in range(distinct)}
    texts = {k: text_of(v) for k, v in base.items()}
    texts["b00-case"] = text_of(base["b00"]).upper().replace(" ", "  ")
    changed = [list(p) for p in base["b01"]]
    changed[0][40], changed[2][60] = "changed", "words"
    texts["b01-words"] = text_of(changed)
    texts["b02-reordered"] = text_of(base["b02"][::-1])
    texts["b03-ws"] = "\t" + text_of(base["b03"], sep="\r\n \n").replace(" ", " \n ", 7)
    punct = [[w + ("," if i % 10 == 9 else "") for i, w in enumerate(p)] for p in base["b04"]]
    punct[3][5] = "different"
    texts["b04-punct"] = text_of(punct)
    exact = [["b00", "b00-case"], ["b03", "b03-ws"]]
    near = [
        ["b00", "b00-case"],
        ["b01", "b01-words"],
        ["b02", "b02-reordered"],
        ["b03", "b03-ws"],
        ["b04", "b04-punct"],
    ]
    return texts, exact, near


def write_jsonl(path: Path, texts: dict[str, str]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for ext_id, text in texts.items():
            fh.write(json.dumps({"id": ext_id, "text": text}) + "\n")


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dups")
    ws = Workspace.init(tmp / "ws")
    texts, exact, near = planted_texts()
    write_jsonl(tmp / "pool.jsonl", texts)
    code, _, err = betr(ws, "import", "docs", str(tmp / "pool.jsonl"), "--corpus", "pool")
    assert code == 0, err
    return ws, exact, near


def clusters(rows: list[dict], kind: str) -> list[list[str]]:
    return sorted(sorted(r["members"]) for r in rows if r["kind"] == kind)


def test_exact_duplicates_are_known_from_the_import(pool):
    ws, exact, _ = pool
    rows = betr_json(ws, "dups", "--corpus", "pool")
    assert clusters(rows, "exact") == exact
    assert clusters(rows, "near") == []  # never detected
    code, out, _ = betr(ws, "dups", "--corpus", "pool", "--kind", "near")
    assert code == 0 and "never detected: betr dups --corpus pool --near" in out


@pytest.mark.parametrize("shingle_hash", ["poly64", "sha1"])
def test_planted_near_copies_are_found_and_nothing_else(pool, shingle_hash):
    ws, exact, near = pool
    rows = betr_json(ws, "dups", "--corpus", "pool", "--near", "--hash", shingle_hash)
    assert clusters(rows, "near") == near
    assert clusters(rows, "exact") == exact
    assert all(r["size"] == len(r["members"]) and r["tokens"] > 0 for r in rows)
    code, out, _ = betr(ws, "dups", "--corpus", "pool", "--near", "--hash", shingle_hash)
    assert code == 0 and "near: 5 cluster(s)" in out
    assert f"{shingle_hash} shingle hash" in out and "14 bands x 8 rows" in out


def test_bad_input_exits_2_with_a_fix(pool):
    ws, _, _ = pool
    code, _, err = betr(ws, "dups", "--corpus", "nope")
    assert code == 2 and "no corpus 'nope'" in err and "fix:" in err
    code, _, err = betr(ws, "dups", "--corpus", "pool", "--bands", "3")
    assert code == 2 and "go with --near" in err
    code, _, err = betr(ws, "dups", "--corpus", "pool", "--near", "--rows", "0")
    assert code == 2 and "--rows must be between 1 and 64" in err


@pytest.fixture(scope="module")
def run_with_dups(tmp_path_factory):
    """A synthetic applied run whose docs at some positions were replaced by planted texts:
    exact pair (2, 6), near pair (4, 9) and a near triple (1, 12, 250: the last one far
    outside the kept set)."""
    tmp = tmp_path_factory.mktemp("dedup")
    ws = Workspace.init(tmp / "ws")
    run_id = make_synthetic_run(ws, 300, seed=3, words=60)
    conn = ws.connect(readonly=True)
    order = conn.execute(
        "SELECT o.position, o.doc_id, d.ext_id, d.n_tokens FROM prob_order o "
        "JOIN docs d ON d.id = o.doc_id WHERE o.run_id = ? ORDER BY o.position",
        (run_id,),
    ).fetchall()
    conn.close()
    rng = random.Random(9)
    a, b, c = (paragraphs(rng) for _ in range(3))
    b2 = [list(p) for p in b]
    b2[1][7] = "other"
    c2, c3 = c[::-1], [list(p) for p in c]
    c3[0][3] = "x"
    plant = {2: text_of(a), 6: text_of(a).title(), 4: text_of(b), 9: text_of(b2)}
    plant |= {1: text_of(c), 12: text_of(c2), 250: text_of(c3)}
    for position, text in plant.items():
        replace_text(ws, order[position - 1][1], text)
    by_position = {r[0]: {"id": r[1], "ext": r[2], "tokens": r[3]} for r in order}
    return ws, run_id, by_position


def test_select_dedup_keeps_the_highest_p_member_of_each_cluster(run_with_dups, tmp_path):
    ws, run_id, pos = run_with_dups
    keep = ["--keep", "10%", "--by", "docs"]  # positions 1..30
    code, _, err = betr(
        ws,
        "select",
        "--run",
        str(run_id),
        *keep,
        "--dedup",
        "near",
        "--out",
        str(tmp_path / "x.jsonl"),
    )
    assert code == 2 and "betr dups --corpus synthetic --near" in err
    rows = betr_json(ws, "dups", "--corpus", "synthetic", "--near")
    ext = {p: pos[p]["ext"] for p in pos}
    assert clusters(rows, "exact") == [sorted([ext[2], ext[6]])]
    assert clusters(rows, "near") == sorted(
        sorted(ext[p] for p in group) for group in ([2, 6], [4, 9], [1, 12, 250])
    )
    for kind, dropped in (("exact", [6]), ("near", [6, 9, 12])):
        out = tmp_path / f"{kind}.jsonl"
        result = betr_json(
            ws, "select", "--run", str(run_id), *keep, "--dedup", kind, "--out", str(out)
        )
        written = [json.loads(line)["id"] for line in out.open(encoding="utf-8")]
        assert written == [ext[p] for p in range(1, 31) if p not in dropped]
        assert result["dropped_docs"] == len(dropped)
        assert result["dropped_tokens"] == sum(pos[p]["tokens"] for p in dropped)
        assert result["kept_docs"] == 30 and result["rows"] == 30 - len(dropped)
        assert result["dedup"]["kind"] == kind
    code, out, _ = betr(
        ws,
        "select",
        "--run",
        str(run_id),
        *keep,
        "--dedup",
        "near",
        "--out",
        str(tmp_path / "y.jsonl"),
    )
    assert code == 0 and "dropped 3 near duplicate docs" in out


def test_a_near_job_that_dies_half_way_resumes_to_the_same_clusters(tmp_path, monkeypatch):
    from engine.api.dups import near_runs
    from engine.jobs.kinds import near_dups as kind
    from engine.ops.minhash import MinHashBands

    ws = Workspace.init(tmp_path / "ws")
    texts, _, near = planted_texts(seed=5, distinct=60)
    write_jsonl(tmp_path / "pool.jsonl", texts)
    assert betr(ws, "import", "docs", str(tmp_path / "pool.jsonl"), "--corpus", "pool")[0] == 0
    monkeypatch.setattr(kind, "CHUNK_DOCS", 10)
    real_call = MinHashBands.__call__
    calls = {"n": 0}

    def dies_on_the_fourth_chunk(self, batch):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("worker lost")
        return real_call(self, batch)

    monkeypatch.setattr(MinHashBands, "__call__", dies_on_the_fourth_chunk)
    code, _, err = betr(ws, "dups", "--corpus", "pool", "--near")
    assert code == 1 and "worker lost" in err
    (run,) = near_runs(ws, "pool")
    assert not run.finished and run.job_state == "failed"
    assert clusters(betr_json(ws, "dups", "--corpus", "pool"), "near") == []  # not a result
    conn = ws.connect(readonly=True)
    staged = conn.execute("SELECT COUNT(*) FROM near_dup_bands").fetchone()[0]
    conn.close()
    assert staged == 3  # three chunks committed, nothing of the fourth
    resumed: list[int] = []

    def counts(self, batch):
        resumed.append(len(batch["id"]))
        return real_call(self, batch)

    monkeypatch.setattr(MinHashBands, "__call__", counts)
    code, _, err = betr(ws, "jobs", "resume", str(run.job_id))
    assert code == 0, err
    assert sum(resumed) == len(texts) - 30  # only the docs after the three chunks were signed
    assert clusters(betr_json(ws, "dups", "--corpus", "pool"), "near") == near
    (done,) = near_runs(ws, "pool")
    assert done.finished and done.docs == len(texts)
    # a corpus delete takes the runs, members and hashes with it
    assert betr(ws, "delete", "corpus", "pool")[0] == 0
    conn = ws.connect(readonly=True)
    left = [
        conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("near_dup_runs", "near_dup_members", "near_dup_bands", "doc_hashes")
    ]
    conn.close()
    assert left == [0, 0, 0, 0]


@pytest.mark.realdata
def test_the_real_web_docs_repeat_275_texts(tmp_path):
    path = shared_data_dir() / "web_docs" / "combined_docs.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    records = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    by_text: dict[str, list[str]] = {}
    for r in records:
        by_text.setdefault(r["text"], []).append(r["id"])
    repeated = sorted(sorted(ids) for ids in by_text.values() if len(ids) > 1)
    assert len(repeated) == 275
    ws = Workspace.init(tmp_path / "ws")
    code, _, err = betr(ws, "import", "docs", str(path), "--corpus", "web", "--id-field", "id")
    assert code == 0, err
    rows = betr_json(ws, "dups", "--corpus", "web", "--kind", "exact")
    assert clusters(rows, "exact") == repeated
