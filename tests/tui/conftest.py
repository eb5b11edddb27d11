"""Fixtures for the TUI tests: no user config, UTC clock, no torch, and fake job rows."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from engine.jobs.table import HOST, create_job
from engine.store.db import transaction

TEST_DEVICE = "cpu (test)"


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests (Pilot tests) on a fresh event loop, without a plugin."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture(autouse=True)
def tui_env(tmp_path, monkeypatch):
    """The user's config, time zone and GPU never leak into a test."""
    monkeypatch.setenv("BETR_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("BETR_DEVICE", "cpu")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def make_app(workspace, **kwargs: Any):
    from tui.app import BetrApp

    kwargs.setdefault("probe_device", lambda preference: TEST_DEVICE)
    return BetrApp(workspace, **kwargs)


async def wait_until(pilot, predicate: Callable[[], Any], timeout: float = 30.0, what: str = ""):
    """Let the app run (pilot.pause) until `predicate()` is true; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        await pilot.pause(0.1)


def screen_lines(app) -> list[str]:
    """What the terminal shows, line by line, as plain text (the screen and any dialog on it)."""
    update = app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens, simplify=True
    )
    return ["".join(strip.text for strip in line) for line in update.strips]


def fake_job(
    workspace,
    *,
    state: str = "running",
    done: int = 0,
    total: int | None = 1000,
    unit: str = "docs",
    rate: float | None = None,
    eta_s: float | None = None,
    error: str | None = None,
    title: str = "import docs.jsonl -> fake",
    config: dict[str, Any] | None = None,
    created_at: float | None = None,
    live: bool = True,
) -> int:
    """A job row written straight into the table (no worker). A `live` running job has this
    test process as its worker and a fresh heartbeat; otherwise it belongs to another host."""
    conn = workspace.connect()
    try:
        job_id = create_job(
            conn,
            "import-docs",
            title,
            config or {"corpus": "fake", "paths": ["/nonexistent/docs.jsonl"]},
        )
        now = time.time()
        with transaction(conn):
            conn.execute(
                "UPDATE jobs SET state = ?, done = ?, total = ?, unit = ?, rate = ?, eta_s = ?, "
                "error = ?, pid = ?, host = ?, heartbeat = ?, attempts = 1, "
                "created_at = COALESCE(?, created_at), started_at = COALESCE(?, created_at), "
                "finished_at = ? WHERE id = ?",
                (
                    state,
                    done,
                    total,
                    unit,
                    rate,
                    eta_s,
                    error,
                    os.getpid() if live else 4242,
                    HOST if live else "elsewhere",
                    now,
                    created_at,
                    created_at,
                    None if state in ("running", "queued") else (created_at or now) + 12.5,
                    job_id,
                ),
            )
    finally:
        conn.close()
    return job_id


def update_job(workspace, job_id: int, **fields: Any) -> None:
    conn = workspace.connect()
    try:
        sets = ", ".join(f"{k} = ?" for k in fields)
        with transaction(conn):
            conn.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))
    finally:
        conn.close()


def db_job(workspace, job_id: int):
    from engine.jobs.table import get_job

    conn = workspace.connect(readonly=True)
    try:
        return get_job(conn, job_id)
    finally:
        conn.close()
