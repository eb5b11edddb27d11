"""Workspace creation, pragmas, migrations, version checks and file permissions."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from engine.errors import WorkspaceError
from engine.store import db
from engine.store.schema import SCHEMA_VERSION
from engine.workspace import Workspace, resolve_path


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_owner_only_layout(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    assert mode(ws.root) == 0o700
    for sub in ("models", "exports", "logs"):
        assert mode(ws.root / sub) == 0o700
    assert mode(ws.db_path) == 0o600
    conn = ws.connect()
    conn.execute("CREATE TABLE t (x)")  # forces the WAL file into existence
    conn.close()
    for suffix in ("-wal", "-shm"):
        p = ws.db_path.with_name(ws.db_path.name + suffix)
        if p.exists():
            assert mode(p) == 0o600


def test_pragmas_are_set_on_every_connection(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    conn = ws.connect()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == db.BUSY_TIMEOUT_MS
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    ro = ws.connect(readonly=True)
    assert ro.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        ro.execute("INSERT INTO meta VALUES ('a', 'b')")


def test_init_is_idempotent_and_keeps_data(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    conn = ws.connect()
    conn.execute("INSERT INTO meta VALUES ('k', 'v')")
    conn.close()
    again = Workspace.init(tmp_path / "ws")
    assert again.connect().execute("SELECT value FROM meta WHERE key='k'").fetchone()[0] == "v"


def test_open_missing_workspace_says_how_to_create_one(tmp_path):
    with pytest.raises(WorkspaceError) as err:
        Workspace.open(tmp_path / "nope")
    assert "no betr workspace at" in str(err.value)
    assert "betr init" in str(err.value)


def test_newer_schema_is_refused_clearly(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    conn = sqlite3.connect(ws.db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 3}")
    conn.close()
    with pytest.raises(WorkspaceError) as err:
        Workspace.open(ws.root)
    msg = str(err.value)
    assert f"schema version {SCHEMA_VERSION + 3}" in msg
    assert "newer betr-tui" in msg
    assert "upgrade" in msg


def test_migrations_apply_in_order_and_atomically(tmp_path, monkeypatch):
    path = tmp_path / "x.sqlite"
    broken = [*db.MIGRATIONS, "CREATE TABLE ok_table (x); CREATE TABLE meta (dup);"]
    monkeypatch.setattr(db, "MIGRATIONS", broken)
    monkeypatch.setattr(db, "SCHEMA_VERSION", len(broken))
    with pytest.raises(sqlite3.OperationalError, match="already exists"):
        db.connect(path)
    conn = sqlite3.connect(path)
    # the first migration landed, the broken one left nothing behind
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(broken) - 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "ok_table" not in tables
    assert "docs" in tables


def test_resolve_path_prefers_argument_then_env_then_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BETR_WORKSPACE", raising=False)
    assert resolve_path(None) == tmp_path / "betr-workspace"
    monkeypatch.setenv("BETR_WORKSPACE", str(tmp_path / "env-ws"))
    assert resolve_path(None) == tmp_path / "env-ws"
    assert resolve_path("given") == Path("given")


def test_deleting_a_corpus_cascades_to_docs_and_fts(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    conn = ws.connect()
    conn.execute(
        "INSERT INTO corpora (id, name, state, created_at, tokenizer, tokenizer_sha256, "
        "text_field) VALUES (1, 'c', 'ready', 0, 't', 's', 'text')"
    )
    conn.execute(
        "INSERT INTO docs (corpus_id, ext_id, text, n_tokens, n_chars, source) "
        "VALUES (1, 'a', 'zebra crossing', 2, 14, 'f:1')"
    )
    assert conn.execute("SELECT rowid FROM docs_fts WHERE docs_fts MATCH 'zebra'").fetchall()
    conn.execute("DELETE FROM corpora WHERE id = 1")
    assert conn.execute("SELECT COUNT(*) FROM docs").fetchone()[0] == 0
    assert not conn.execute("SELECT rowid FROM docs_fts WHERE docs_fts MATCH 'zebra'").fetchall()
    conn.execute("INSERT INTO docs_fts(docs_fts) VALUES ('integrity-check')")


def test_a_checkpoint_gives_a_big_write_s_wal_back_to_the_disk(tmp_path, monkeypatch):
    """The WAL grows to the size of the biggest transaction (a 1M-doc import left 1 GB); once
    a checkpoint has copied it into the database, the next write shrinks the file back to
    journal_size_limit."""
    from engine.store.db import transaction

    monkeypatch.setattr(db, "WAL_SIZE_LIMIT", 65_536)
    ws = Workspace.init(tmp_path / "ws")
    conn = ws.connect()
    try:
        with transaction(conn):
            conn.execute("INSERT INTO meta (key, value) VALUES ('big', ?)", ("x" * 3_000_000,))
        wal = ws.root / "betr.sqlite-wal"
        assert wal.stat().st_size > 3_000_000
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        with transaction(conn):
            conn.execute("INSERT INTO meta (key, value) VALUES ('small', 'y')")
        assert wal.stat().st_size <= 65_536
        assert len(conn.execute("SELECT value FROM meta WHERE key = 'big'").fetchone()[0]) == 3e6
    finally:
        conn.close()
