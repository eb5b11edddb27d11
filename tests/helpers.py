"""What the tests share besides fixtures (those live in conftest.py): `betr` run in this
process, the workspace read through the engine's own readers, waiting on jobs, and the
synthetic inputs tests write."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """../shared/data, or $BETR_SHARED_DATA."""
    return Path(os.environ.get("BETR_SHARED_DATA", REPO.parent / "shared" / "data"))


# -- the CLI in this process ----------------------------------------------------------------
def betr(ws: Workspace | Path | None, *args: str) -> tuple[int, str, str]:
    """`betr ARGS -w WS` in this process (no `-w` when `ws` is None): (exit code, stdout,
    stderr)."""
    from engine.cli import main

    root = ws.root if isinstance(ws, Workspace) else ws
    argv = [*args, "-w", str(root)] if root is not None else [*args]
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def betr_json(ws: Workspace | Path | None, *args: str) -> Any:
    """`betr ARGS -w WS --json`, which must succeed, parsed."""
    code, out, err = betr(ws, *args, "--json")
    assert code == 0, err
    return json.loads(out)


# -- the workspace, read as the engine reads it ---------------------------------------------
def cached_vectors(ws: Workspace, model_id: str, texts: list[str]) -> np.ndarray:
    """(n, dim) float32 unit rows: the float16 vectors the embedding cache holds for `texts`
    under `model_id` (a KeyError for a text it does not hold)."""
    from engine.embed import normalise_rows, text_sha256
    from engine.store.embeddings import SqliteEmbeddingCache

    keys = [text_sha256(t) for t in texts]
    with contextlib.closing(ws.connect(readonly=True)) as conn:
        found = SqliteEmbeddingCache(conn).get_many(model_id, keys)
    return normalise_rows(np.stack([found[k] for k in keys]).astype(np.float32))


def job_state(ws: Workspace, job_id: int):
    """The job's row (engine.jobs.table.JobInfo), read now."""
    from engine.jobs.table import get_job

    with contextlib.closing(ws.connect(readonly=True)) as conn:
        return get_job(conn, job_id)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05):
    """`predicate()` once it is true; an AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# -- inputs ----------------------------------------------------------------------------------
WORDS = (
    "data model token corpus benchmark rank filter science river mountain planet energy "
    "equation proof theorem village market history music protein cell orbit language "
    "question answer reason evidence sample weight signal garden winter harbor engine"
).split()


def write_docs_jsonl(path: Path, n: int, *, seed: int = 0, words: int = 60) -> Path:
    """`n` JSONL docs of varied pseudo-text (ids doc-00000...), deterministic for a seed."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            text = " ".join(rng.choice(WORDS) for _ in range(words + rng.randrange(words)))
            fh.write(json.dumps({"id": f"doc-{i:05d}", "text": text, "src": f"s{i % 3}"}) + "\n")
    return path


def write_quiz(path: Path, n: int = 8) -> Path:
    """A GSM8K-format benchmark of `n` generated questions."""
    things = "rivers planets proteins villages engines markets theorems signals gardens".split()
    path.write_text(
        "".join(
            json.dumps(
                {
                    "question": f"How many {things[i % 9]} are in the {things[(i + 3) % 9]}?",
                    "answer": f"Count them: {i + 2}.\n#### {i + 2}",
                }
            )
            + "\n"
            for i in range(n)
        )
    )
    return path
