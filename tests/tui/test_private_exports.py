"""What the app and the CLI write out is owner-only (0600), as the README promises: the view,
the selection (JSONL and Parquet), labels, the trade-off numbers, the Analysis tables and plots
and screenshots, whatever the umask."""

from __future__ import annotations

import os
import stat

import pytest

from bench.synth_run import make_synthetic_run
from tests.helpers import betr
from tests.tui.conftest import make_app, wait_until
from tests.tui.test_threshold import open_threshold


@pytest.fixture(autouse=True)
def open_umask():
    old = os.umask(0o022)  # a usual umask: files would be 0644
    yield
    os.umask(old)


def modes(folder) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir() if p.is_file()}


def test_cli_exports_are_owner_only(workspace, tmp_path):
    run_id = make_synthetic_run(workspace, 400)
    outs = [tmp_path / "kept.jsonl", tmp_path / "kept.parquet"]
    for out in outs:
        code, _out, err = betr(
            workspace, "select", "--run", str(run_id), "--keep", "10%", "--out", str(out)
        )
        assert code == 0, err
    (tmp_path / "labels.csv").write_text("old, world-readable\n")  # an existing file too
    os.chmod(tmp_path / "labels.csv", 0o644)
    code, _out, err = betr(workspace, "labels", "export", str(tmp_path / "labels.csv"))
    assert code == 0, err
    assert modes(tmp_path) == {"kept.jsonl": 0o600, "kept.parquet": 0o600, "labels.csv": 0o600}


async def test_tui_exports_are_owner_only(workspace):
    make_synthetic_run(workspace, 400)
    app = make_app(workspace)
    async with app.run_test(size=(160, 48)) as pilot:
        await open_threshold(pilot, app)
        await pilot.press("e")  # the trade-off numbers
        await pilot.press("ctrl+s")  # a screenshot
        await pilot.press("3")
        await wait_until(
            pilot, lambda: app.screen.SCOPE == "documents" and app.screen.view, what="documents"
        )
        await pilot.press("e")  # the view
        exports = workspace.exports_dir
        await wait_until(pilot, lambda: len(modes(exports)) == 3, what="three exports")
    assert set(modes(exports).values()) == {0o600}, modes(exports)
