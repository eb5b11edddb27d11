"""What a running job sees: its config, its checkpoint, and `commit_chunk`.

`commit_chunk` is the only way a job writes results: the chunk's rows, the job's progress and
its new checkpoint go into one transaction. A worker killed at any moment therefore leaves
the workspace at a chunk boundary, and `resume` continues from the stored checkpoint
(`restore`: the job kind's frozen dataclass, engine.jobs.checkpoint). `advance` is the same
commit with nothing to write (progress and checkpoint only). A job whose progress runs ahead
of what it can resume from (training reports tokens between its saved states) puts
`resumes_at` (that progress value) in its checkpoint: a resume then starts its progress, and
says so, from there.
"""

from __future__ import annotations

import collections
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from engine.errors import JobCancelled
from engine.jobs.checkpoint import Checkpoint
from engine.jobs.table import JobInfo
from engine.store import jobs as store_jobs
from engine.store.db import transaction

RATE_WINDOW_S = 10.0


class RateMeter:
    """Units per second over the last RATE_WINDOW_S seconds (steadier than since-start)."""

    def __init__(self, done: int, now: float | None = None):
        self.samples: collections.deque[tuple[float, int]] = collections.deque()
        self.samples.append((time.monotonic() if now is None else now, done))

    def update(self, done: int, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[1][0] >= RATE_WINDOW_S:
            self.samples.popleft()
        t0, d0 = self.samples[0]
        if now <= t0:
            return None
        return (done - d0) / (now - t0)


ProgressCallback = Callable[[int, int | None, str, float | None, float | None], None]
C = TypeVar("C", bound=Checkpoint)


class JobContext:
    """Handed to a job function: `run(ctx, spec) -> result dict`."""

    def __init__(
        self,
        workspace,
        conn: sqlite3.Connection,
        job: JobInfo,
        logger: logging.Logger,
        on_progress: ProgressCallback | None = None,
    ):
        self.workspace = workspace
        self.conn = conn
        self.job = job
        self.job_id = job.id
        self.config = job.config
        self.kind = job.kind
        self.checkpoint: dict[str, Any] | None = job.checkpoint
        self.log = logger
        self.done = job.done if job.checkpoint is not None else 0
        self.total = job.total
        self.unit = job.unit
        self._meter = RateMeter(self.done)
        self._on_progress = on_progress
        # a multi-step job sets this: its ETA from its steps' own times (engine.jobs.eta), and
        # no rate (steps of different kinds per second mean nothing)
        self.steps_eta: Callable[[], float | None] | None = None

    def start_phase(self, total: int | None, unit: str, done: int = 0) -> None:
        """A multi-stage job starts counting a new unit from `done`."""
        self.done = done
        self._meter = RateMeter(done)
        self.set_total(total, unit)

    def set_total(self, total: int | None, unit: str) -> None:
        self.total, self.unit = total, unit
        store_jobs.set_total(self.conn, self.job_id, total, unit, self.done)
        self._report(None, None)

    def restore(self, cls: type[C]) -> C:
        """The job's last committed checkpoint as `cls` (its defaults when there is none);
        a checkpoint written by an older betr is read in its old shape (Checkpoint.upgrade)."""
        return cls.read(self.checkpoint, self.kind)

    def advance(self, n: int, checkpoint: Checkpoint) -> None:
        """Progress by `n` units and a new checkpoint, with nothing else to write."""
        self.commit_chunk(_write_nothing, advance=n, checkpoint=checkpoint)

    def commit_chunk(
        self,
        write: Callable[[sqlite3.Connection], Any],
        *,
        advance: int,
        checkpoint: Checkpoint | Callable[[Any], Checkpoint],
    ) -> Any:
        """Run `write(conn)` and record progress + checkpoint in the same transaction; returns
        what `write` returned. `checkpoint` may be a function of that (a checkpoint that
        records what the write made, e.g. a new row's id).

        Checks for cancellation before and after, so a cancelled job stops at a chunk boundary.
        """
        self.check_cancel()
        done = self.done + advance
        rate = self._meter.update(done)
        eta = None
        if self.steps_eta is not None:
            rate, eta = None, self.steps_eta()
        elif rate and self.total is not None and rate > 0:
            eta = max(0.0, (self.total - done) / rate)
        with transaction(self.conn):
            out = write(self.conn)
            if not isinstance(checkpoint, Checkpoint):
                checkpoint = checkpoint(out)
            stored = checkpoint.to_json()
            store_jobs.record_progress(self.conn, self.job_id, done, rate, eta, stored)
        self.done = done
        self.checkpoint = stored
        self._report(rate, eta)
        self.check_cancel()
        return out

    def report_eta(self, eta: float | None) -> None:
        """A new ETA between commits (a multi-step job while one of its steps runs)."""
        store_jobs.set_eta(self.conn, self.job_id, eta)
        self._report(None, eta)

    def check_cancel(self) -> None:
        if store_jobs.cancel_requested(self.conn, self.job_id):
            raise JobCancelled(f"job {self.job_id} cancelled")

    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        """(inside a transaction) A checkpoint without progress; None also resets the progress
        (an import that discarded what it wrote)."""
        stored = None if checkpoint is None else checkpoint.to_json()
        store_jobs.set_checkpoint(self.conn, self.job_id, stored)
        self.checkpoint = stored

    def _report(self, rate: float | None, eta: float | None) -> None:
        if self._on_progress is not None:
            self._on_progress(self.done, self.total, self.unit, rate, eta)


def _write_nothing(_conn: sqlite3.Connection) -> None:
    """The write of a chunk that only records progress and a checkpoint."""
