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
