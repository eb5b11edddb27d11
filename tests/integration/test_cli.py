"""The `betr` CLI as a user runs it: imports, listings, exit codes, and bad input that
changes nothing in the workspace."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from tests.helpers import REPO, write_docs_jsonl

pytestmark = pytest.mark.usefixtures("olmo_wheel")


def snapshot(workspace) -> dict[str, list]:
    """Everything an import may write, except the job table (which records the attempt)."""
    conn = workspace.connect(readonly=True)
    try:
        return {
            t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1")]
            for t in ("corpora", "docs", "benchmarks", "examples", "target_sets")
        }
    finally:
        conn.close()


def test_import_list_show_roundtrip(betr, tmp_path, workspace):
    src = write_docs_jsonl(tmp_path / "d.jsonl", 30, seed=7)
    code, out, err = betr("import", "docs", str(src), "--corpus", "web", "--meta", "src", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["docs"] == 30
    assert result["tokenizer"] == "gpt-neox-olmo-dolma-v1_5"
    from engine.tokenize import encode_threads

    assert result["tokenizer_threads"] == encode_threads()  # every core unless told otherwise
    code, out, _ = betr("list", "corpora", "--json")
    (corpus,) = json.loads(out)
    assert (corpus["name"], corpus["state"], corpus["n_docs"]) == ("web", "ready", 30)
    assert corpus["n_tokens"] == result["tokens"] > 0
    code, out, _ = betr("show", "doc", "doc-00003", "--json")
    doc = json.loads(out)
    first_lines = (tmp_path / "d.jsonl").read_text().splitlines()
    assert doc["text"] == json.loads(first_lines[3])["text"]
    assert doc["meta"] == {"src": "s0"}
    assert doc["source"] == "d.jsonl:4"
    code, out, _ = betr("list", "jobs", "--json")
    (job,) = json.loads(out)
    assert (job["kind"], job["state"], job["done"], job["total"]) == ("import-docs", "done", 30, 30)


def test_token_counts_are_the_tokenizers_own(betr, tmp_path, workspace):
    from engine.tokenize import load_tokenizer

    texts = ["Hello world", "The quick brown fox jumps over the lazy dog.", "naïve café ∑ 42"]
    src = tmp_path / "t.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    assert betr("import", "docs", str(src), "--corpus", "t")[0] == 0
    conn = workspace.connect(readonly=True)
    counts = [r[0] for r in conn.execute("SELECT n_tokens FROM docs ORDER BY id")]
    tok = load_tokenizer(None)
    assert counts == tok.count(texts)
    assert counts[0] == 2  # GPT-NeoX: "Hello", " world"


def bad_inputs(tmp_path):
    """(file, extra args, expected message fragments) for each kind of bad input."""
    good = json.dumps({"id": "a", "text": "fine text"})
    cases = {}
    p = tmp_path / "malformed.jsonl"
    p.write_text(good + "\n" + '{"id": "b", "text": "oops"\n')
    cases["malformed json"] = (p, [], ["malformed.jsonl:2", "malformed JSON"])
    p = tmp_path / "notext.jsonl"
    p.write_text(good + "\n" + json.dumps({"id": "b", "body": "x"}) + "\n")
    cases["missing text field"] = (p, [], ["notext.jsonl:2", "'text'", "--text-field"])
    p = tmp_path / "empty.jsonl"
    p.write_text("")
    cases["empty file"] = (p, [], ["empty.jsonl", "empty"])
    p = tmp_path / "binary.jsonl"
    p.write_bytes(b"\x00\x01\x02\xff\xfe" * 100)
    cases["binary file"] = (p, [], ["binary.jsonl:1", "binary"])
    p = tmp_path / "latin1.jsonl"
    p.write_bytes(good.encode() + b"\n" + '{"text": "caf\xe9"}'.encode("latin-1") + b"\n")
    cases["invalid utf-8"] = (p, [], ["latin1.jsonl:2", "UTF-8"])
    p = tmp_path / "huge.jsonl"
    with open(p, "wb") as fh:
        fh.write(b'{"text": "' + b"a" * (50 * 2**20) + b'"}\n')
    cases["50 MB line"] = (p, [], ["huge.jsonl:1", "32 MiB"])
    p = tmp_path / "docs.xml"
    p.write_text("<doc/>")
    cases["unknown format"] = (p, [], ["docs.xml"])
    cases["missing file"] = (tmp_path / "nope.jsonl", [], ["nope.jsonl", "no such file"])
    p = tmp_path / "dup.jsonl"
    p.write_text(good + "\n" + good + "\n")
    cases["duplicate id"] = (p, [], ["dup.jsonl:2", "duplicate document id 'a'", "dup.jsonl:1"])
    return cases


@pytest.mark.parametrize(
    "case",
    [
        "malformed json",
        "missing text field",
        "empty file",
        "binary file",
        "invalid utf-8",
        "50 MB line",
        "unknown format",
        "missing file",
        "duplicate id",
    ],
)
def test_bad_input_fails_clearly_and_changes_nothing(betr, tmp_path, workspace, case):
    seed = write_docs_jsonl(tmp_path / "seed.jsonl", 5)
    assert betr("import", "docs", str(seed), "--corpus", "existing")[0] == 0
    before = snapshot(workspace)
    path, extra, fragments = bad_inputs(tmp_path)[case]
    code, out, err = betr("import", "docs", str(path), "--corpus", "new", *extra)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert snapshot(workspace) == before


def test_existing_corpus_name_is_refused_before_any_work(betr, tmp_path, workspace):
    seed = write_docs_jsonl(tmp_path / "seed.jsonl", 5)
    assert betr("import", "docs", str(seed), "--corpus", "web")[0] == 0
    before = snapshot(workspace)
    code, _, err = betr("import", "docs", str(seed), "--corpus", "web")
    assert code == 2
    assert "corpus 'web' already exists (5 docs, ready)" in err
    assert "betr delete corpus web" in err
    assert snapshot(workspace) == before


def test_skip_bad_imports_the_rest_and_reports_what_it_skipped(betr, tmp_path, workspace):
    p = tmp_path / "mixed.jsonl"
    lines = [json.dumps({"id": f"d{i}", "text": f"document number {i}"}) for i in range(6)]
    lines[2] = '{"id": "d2", "text": '
    lines[4] = json.dumps({"id": "d4", "body": "no text"})
    p.write_text("\n".join(lines) + "\n")
    code, out, err = betr("import", "docs", str(p), "--corpus", "m", "--skip-bad", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["docs"], result["skipped"]) == (4, 2)
    assert any("mixed.jsonl:3" in s for s in result["skipped_examples"])
    assert any("mixed.jsonl:5" in s for s in result["skipped_examples"])
    code, out, _ = betr("list", "corpora", "--json")
    assert json.loads(out)[0]["n_skipped"] == 2


def test_unknown_bench_format_and_missing_workspace(betr, tmp_path):
    p = tmp_path / "g.jsonl"
    p.write_text(json.dumps({"question": "1+1?", "answer": "2 #### 2"}) + "\n")
    code, _, err = betr("import", "bench", str(p), "--name", "g", "--format", "nonsense")
    assert code == 2 and "nonsense" in err and "gsm8k" in err
    code, _, err = betr("list", "corpora", "-w", str(tmp_path / "missing"), ws=False)
    assert code == 2 and "no betr workspace at" in err and "betr init" in err


def test_bench_import_and_listing(betr, tmp_path):
    p = tmp_path / "gsm.jsonl"
    p.write_text(
        "".join(
            json.dumps({"question": f"What is {i}+1?", "answer": f"{i}+1={i + 1}\n#### {i + 1}"})
            + "\n"
            for i in range(4)
        )
    )
    code, out, err = betr(
        "import", "bench", str(p), "--name", "mini-gsm", "--category", "math", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["examples"] == 4
    code, out, _ = betr("list", "benchmarks", "--json")
    (b,) = json.loads(out)
    assert (b["name"], b["category"], b["format"], b["n_examples"]) == (
        "mini-gsm",
        "math",
        "gsm8k",
        4,
    )
    code, _, err = betr("import", "bench", str(p), "--name", "mini-gsm")
    assert code == 2 and "benchmark 'mini-gsm' already exists" in err


def test_detached_import_outlives_the_cli(tmp_path, workspace):
    src = write_docs_jsonl(tmp_path / "d.jsonl", 500)
    env_python = sys.executable
    out = subprocess.run(
        [
            env_python,
            "-m",
            "engine",
            "import",
            "docs",
            str(src),
            "--corpus",
            "bg",
            "--detach",
            "--json",
            "-w",
            str(workspace.root),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    job_id = json.loads(out.stdout)["job_id"]
    from tests.helpers import job_state, wait_for

    job = wait_for(lambda: (j := job_state(workspace, job_id)).state == "done" and j, 60, "done")
    assert job.result["docs"] == 500
    logs = subprocess.run(
        [env_python, "-m", "engine", "jobs", "logs", str(job_id), "-w", str(workspace.root)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    ).stdout
    assert "start import-docs" in logs and "done:" in logs


def test_gzip_jsonl_import(betr, tmp_path):
    src = write_docs_jsonl(tmp_path / "d.jsonl", 12, seed=9)
    gz = tmp_path / "d.jsonl.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    code, out, err = betr("import", "docs", str(gz), "--corpus", "gz", "--json")
    assert code == 0, err
    assert json.loads(out)["docs"] == 12
