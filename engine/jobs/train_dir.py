"""The output directory of a `proxy-train` job: one job owns it, and betr never deletes what it
did not write.

Invariants:
- A directory belongs to the job named in its marker (`betr-train.json`, written when the job
  claims it). Another job may take it over only when the owner is neither queued nor running
  and left no checkpoint; it then drops only the caches betr writes there (tokenizer.json,
  data/, state/, half-written `.tmp-*` directories), nothing else.
- A directory without a marker is betr's only when it is empty (or does not exist yet): a
  non-empty foreign directory is refused and left exactly as it was.
- Claims are serialised by the workspace's write lock (BEGIN IMMEDIATE), so two jobs started
  at the same moment cannot both take one directory; the check that `betr proxy train` runs
  before queueing (`check_out_dir` with no job id) also refuses a directory that a queued or
  running job was given, before that job has created it.
- The default directory's name carries everything that makes a run distinct (dataset,
  parameters, tokens, seed and a hash of the remaining settings), so runs that differ never
  share one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from engine.errors import NotFoundError, UsageError
from engine.jobs.table import active_jobs, get_job
from engine.store.db import transaction

SPEC_FILE = "betr-train.json"
BETR_CACHES = ("tokenizer.json", "data", "state")
ACTIVE = ("queued", "running")


def default_out_dir(root: Path, config: dict[str, Any]) -> Path:
    """proxies/<dataset>-<params>p-<tokens>tok-s<seed>-<hash of the other settings> under the
    workspace `root` (the dataset name was checked with `check_path_name`)."""
    rest = {k: v for k, v in config.items() if k != "out_dir"}
    digest = hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:8]
    name = (
        f"{config['dataset']}-{config['params']}p-{config['tokens']}tok-s{config['seed']}-{digest}"
    )
    return root / "proxies" / name


def read_marker(out: Path) -> dict[str, Any] | None:
    """The marker's contents, or None when there is none; a marker that cannot be read is
    not betr's (its directory is treated as foreign)."""
    marker = out / SPEC_FILE
    if not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def check_out_dir(conn: sqlite3.Connection, out: Path, job_id: int | None = None) -> str:
    """ "new" (absent or empty), "mine" (claimed by job_id already) or "take-over" (a betr
    directory whose owner stopped before any checkpoint); a UsageError naming the owner or
    the foreign contents otherwise. Reads only: nothing is written."""
    for job in active_jobs(conn) if job_id is None else ():  # (a claim: the marker decides)
        if job.kind == "proxy-train" and Path(str(job.config.get("out_dir", ""))) == out:
            raise _busy(out, job.id, f"{job.title}, {job.state}")
    if not out.exists():
        return "new"
    if not out.is_dir():
        raise UsageError(
            f"{out} exists and is not a directory", fix="give --out a new or empty directory"
        )
    marker = read_marker(out)
    if marker is None:
        if any(out.iterdir()):
            raise UsageError(
                f"{out} is not empty and was not made by betr proxy train (it has no "
                f"{SPEC_FILE}); betr never writes into, or deletes from, a directory it did "
                "not create",
                fix="give --out a new or empty directory",
            )
        return "new"
    owner = marker.get("job_id")
    if not isinstance(owner, int):
        raise UsageError(
            f"{out}/{SPEC_FILE} cannot be read as betr's marker, so {out} is treated as not betr's",
            fix="give --out a new or empty directory",
        )
    if owner == job_id:
        return "mine"
    try:
        job = get_job(conn, owner)
    except NotFoundError:  # deleted with its history
        job = None
    if job is not None and job.state in ACTIVE:
        raise _busy(out, owner, f"{job.title}, {job.state}")
    if any(out.glob("ckpt-*")):
        raise UsageError(
            f"{out} holds the checkpoints of proxy-train job {owner}",
            fix=f"resume that job (betr jobs resume {owner}), train into another directory "
            "(--out), or delete that one",
        )
    return "take-over"


def claim_out_dir(conn: sqlite3.Connection, out: Path, job_id: int, spec: dict[str, Any]) -> str:
    """Claim `out` for job_id (check_out_dir's rules, under the workspace's write lock), create
    it owner-only and write the marker; returns check_out_dir's verdict."""
    with transaction(conn):
        verdict = check_out_dir(conn, out, job_id)
        if verdict == "take-over":
            for name in BETR_CACHES:
                path = out / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
            for tmp in out.glob(".tmp-*"):
                shutil.rmtree(tmp, ignore_errors=True)
        if verdict != "mine":
            out.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_marker(out, {"job_id": job_id, "spec": spec})
    return verdict


def write_marker(out: Path, data: dict[str, Any]) -> None:
    from engine.ops.lm_data import write_atomic

    write_atomic(out / SPEC_FILE, json.dumps(data, indent=1).encode())


def _busy(out: Path, job_id: int, what: str) -> UsageError:
    return UsageError(
        f"{out} is the output directory of proxy-train job {job_id} ({what})",
        fix=f"wait for it (betr jobs show {job_id}), cancel it (betr jobs cancel {job_id}), "
        "or train into another directory (--out)",
    )
