"""Ray for the scale-out executor: imported only here and only when a job runs on it (a
UsageError says how to install it otherwise), connected to a new local instance or a cluster,
and Ray Data set up as the jobs want it.

Ray is imported only inside functions; the workers import the executor's modules by name, so
the `engine` package must be importable on every node (installed, as it is for a local
instance).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from engine.errors import UsageError

INSTALL_FIX = "install the Ray extra: pip install 'betr-tui[ray]'"


def import_ray() -> Any:
    """The `ray` module, or a UsageError that says how to install it."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise UsageError(
            f"--engine ray needs Ray, which is not installed ({exc})", fix=INSTALL_FIX
        ) from None
    return ray


@contextlib.contextmanager
def ray_session(address: str = "local", num_cpus: int | None = None) -> Iterator[Any]:
    """Ray, connected: a new local instance ("local": num_cpus or every core, no dashboard),
    or the cluster at "auto" / HOST:PORT. Shut down on exit, unless Ray was already
    initialised by the caller (then it is used as it is and left running)."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    if address == "local":
        ray.init(
            address="local",
            num_cpus=num_cpus or os.cpu_count() or 1,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            ignore_reinit_error=True,
        )
    else:
        try:
            ray.init(
                address=address,
                log_to_driver=False,
                logging_level=logging.WARNING,
                ignore_reinit_error=True,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UsageError(
                f"cannot connect to the Ray cluster at '{address}': {exc}",
                fix="start it (ray start --head) or use --address local",
            ) from None
    try:
        yield ray
    finally:
        ray.shutdown()


def quiet_ray_data(ray: Any) -> None:
    """Ray Data as the job wants it: actor tasks retried on errors; no progress bars (the job
    table shows progress; the bars cost the driver CPU the actors need) and no INFO lines."""
    ctx = ray.data.DataContext.get_current()
    ctx.actor_task_retry_on_errors = True
    ctx.enable_progress_bars = False
    ctx.enable_operator_progress_bars = False
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    # (it would warn that the bars are off)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
