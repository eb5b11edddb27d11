"""bench/frequency.py runs, so it cannot rot: a small workspace, every row it reports (no
timing asserted), as tests/integration/test_bench_smoke.py does for the other benches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_bench(tmp_path: Path, *args: str) -> list[dict]:
    env = dict(os.environ, BETR_CONFIG=str(tmp_path / "no-config.toml"))
    done = subprocess.run(
        [sys.executable, "-m", "bench.frequency", "--docs", "3000", "--json", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout[done.stdout.index("[") :])


def test_frequency_bench_engine_rows(tmp_path):
    rows = run_bench(tmp_path, "--workspace", str(tmp_path / "ws"), "--no-tui")
    steps = [r["step"] for r in rows]
    assert steps[0] == "read meta.lang"
    for name in ("meta.lang", "benchmark", "tokens", "prob"):
        assert f"freq {name}" in steps and f"freq {name} (kept view)" in steps
    for r in rows[1:]:
        assert r["ours_ms"] > 0 and r["baseline_ms"] > 0
        assert r["ratio"] == pytest.approx(r["baseline_ms"] / r["ours_ms"])
    assert rows[1]["docs"] == 3000


@pytest.mark.slow
def test_frequency_bench_tui_rows(tmp_path):
    rows = run_bench(tmp_path, "--workspace", str(tmp_path / "ws"))
    tui = {r["step"]: r for r in rows if r["step"].startswith("TUI")}
    assert "TUI first table of meta.lang" in tui
    for name in ("meta.lang", "benchmark", "tokens"):
        assert tui[f"TUI F -> table of {name}"]["detail"].startswith("goal < 100 ms")
