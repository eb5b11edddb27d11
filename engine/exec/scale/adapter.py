"""The scale-out executor's one generic adapter: any per-batch operators (engine.ops) as a Ray
Data actor over sharded files, one Parquet file out per input shard, with no actor class per
operator (as NeMo Curator's ray_data adapter turns any stage into a `map_batches` actor).

An operator declares `resources` (what one copy needs) and `batch_size` (rows per call); a job
hands `run_shards` the operators, which run one after the other on each batch inside one actor
(the actor reserves the most CPUs and GPUs any of them declares, and reads the smallest batch
any of them takes).

Pipeline: Ray Data over one row (and block) per pending shard, `map_batches(OperatorActor,
compute=ActorPoolStrategy(size=actors))`: each actor sets the operators up once and, per shard,
runs `process_shard` (read it with our readers: JSONL, .gz, .zst, Parquet, with precise errors;
apply the operators batch by batch, each batch's new columns after `id`, without the text;
write its rows, in input order, to a temporary name, then rename), so a shard file that exists
is whole and a re-run skips it. The driver iterates one small row per finished shard and
reports progress to the caller (which may raise to cancel: the execution is closed, and a local
instance shut down by the job). The local single-process path for shard files is the same
`process_shard`, shard after shard.

CPU reservation: each actor gets min(its operators' CPUs, (CPUs - READ_CPUS) / actors) by
default (0.875 with `num_cpus=2`, 2 actors and one-CPU operators), so the short row-counting
tasks (READ_CPUS) still fit. An explicit --actor-cpus that leaves no room for them on a local
instance is refused.

Retries are for lost workers, not for bad data: a shard that cannot be read (a truncated JSON
line, a record without its text field, a corrupt .gz) is reported, not raised, by the counting
task or the actor (its InputError travels back as data: `error_payload`), and the driver raises
it at once, naming the shard, the line and the field (exit 2, no retry, no Ray traceback).
Other exceptions are retried: counting tasks on any exception (max_retries=3,
retry_exceptions=True), a shard's actor task on errors too (DataContext.
actor_task_retry_on_errors, max_task_retries=2: the shard is redone from its start), and dead
actors restart (max_restarts=2).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UsageError
from engine.exec.scale.session import quiet_ray_data
from engine.exec.scale.shards import (
    READ_CPUS,
    Shard,
    error_from_payload,
    error_payload,
    read_shard,
    write_shard,
)
from engine.ops import Operator, Resources

FAULT_ENV = "BETR_RAY_FAULT_DIR"  # tests: a file `fail-once` there fails one actor call


def needs(operators: Sequence[Operator]) -> tuple[Resources, int]:
    """What one actor running `operators` one after the other needs (the most CPUs and GPUs any
    declares), and the rows it reads per batch (the smallest batch size any takes)."""
    cpus = max(op.resources.cpus for op in operators)
    gpus = max(op.resources.gpus for op in operators)
    return Resources(cpus, gpus), min(op.batch_size for op in operators)


def _maybe_fail_once() -> None:
    """Fault injection for the tests: a file `fail-once` in $BETR_RAY_FAULT_DIR fails exactly
    one actor call (the first to remove it); a file `delay` there makes every call sleep that
    many seconds."""
    fault_dir = os.environ.get(FAULT_ENV)
    if not fault_dir:
        return
    with contextlib.suppress(OSError, ValueError):
        time.sleep(float(Path(fault_dir, "delay").read_text()))
    try:
        os.remove(os.path.join(fault_dir, "fail-once"))
    except FileNotFoundError:
        return
    raise RuntimeError("injected failure (fail-once)")


def apply_operators(operators: Sequence[Operator], table: Any) -> Any:
    """pyarrow Table {id, text, shard, row, size} -> the same rows without the text, and the
    columns the operators add (in the order they add them) right after `id`: a 1-D array as a
    column of its dtype, a 2-D one (e.g. vectors) as a fixed-size list column."""
    import pyarrow as pa

    _maybe_fail_once()
    batch: dict[str, Any] = {"id": table.column("id"), "text": table.column("text").to_pylist()}
    for op in operators:
        batch = op(batch)
    out = table.drop_columns(["text"])
    added = [name for name in batch if name not in ("id", "text")]
    for i, name in enumerate(added):
        values = batch[name]
        if isinstance(values, np.ndarray) and values.ndim == 2:
            flat = pa.array(values.reshape(-1))
            column = pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
        else:
            column = pa.array(values)
        out = out.add_column(1 + i, name, column)
    return out


def process_shard(
    operators: Sequence[Operator],
    source: str,
    out: str,
    text_field: str,
    id_field: str | None,
    batch_size: int,
) -> int:
    """One whole shard in one process: read it with our readers, run the operators (set up
    once) over its batches of `batch_size` rows, write its rows in input order. Returns the
    rows written."""
    for op in operators:
        op.setup()
    parts = [
        apply_operators(operators, batch)
        for batch in read_shard(
            {"source": [source]},
            text_field=text_field,
            id_field=id_field,
            rows_per_batch=batch_size,
        )
    ]
    return write_shard(Shard(source, out), parts)


class OperatorActor:
    """(the actor class `map_batches` runs, for any operators) The operators set up once per
    actor; each row of a batch names a shard, and `process_shard` reads, applies and writes it
    inside the actor."""

    def __init__(
        self,
        operators: Sequence[Operator],
        text_field: str,
        id_field: str | None,
        batch_size: int,
    ):
        self.operators = list(operators)
        for op in self.operators:
            op.setup()
        self.args = (text_field, id_field, batch_size)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        """{source, rows, error}: per shard the rows written, or -1 and the JSON error
        payload of a shard whose data is bad (returned, never raised: no retry)."""
        from engine.errors import BetrError

        sources = [str(x) for x in batch["source"]]
        outs = [str(x) for x in batch["out"]]
        rows, errors = [], []
        for src, out in zip(sources, outs, strict=True):
            try:
                rows.append(process_shard(self.operators, src, out, *self.args))
                errors.append("")
            except BetrError as exc:
                rows.append(-1)
                errors.append(json.dumps(error_payload(exc)))
        return {"source": sources, "rows": rows, "error": errors}


def actor_cpus_for(
    ray: Any, actors: int, actor_cpus: float | None, declared: float, *, local: bool
) -> float:
    """CPUs per actor: as asked, or min(declared, (CPUs - READ_CPUS) / actors); a local
    instance must keep READ_CPUS free for a read task (UsageError otherwise)."""
    total = float(ray.cluster_resources().get("CPU", 1.0))
    room = total - READ_CPUS
    if actor_cpus is None:
        return max(0.05, min(declared, room / actors))
    if local and actors * actor_cpus > room + 1e-9:
        raise UsageError(
            f"{actors} actors x {actor_cpus} CPUs leave no CPU for reading on "
            f"{total:g} CPUs (a read task needs {READ_CPUS})",
            fix=f"use --actor-cpus {room / actors:.2f} or fewer --actors (or omit "
            "--actor-cpus: it then fits the actors to the CPUs)",
        )
    return actor_cpus


def run_shards(
    ray: Any,
    shards: Sequence[Shard],
    operators: Sequence[Operator],
    *,
    actors: int,
    actor_cpus: float | None = None,
    text_field: str = "text",
    id_field: str | None = "id",
    local: bool = True,
    on_batch: Callable[[int], None] = lambda n: None,
    on_shard: Callable[[Shard, int], None] = lambda s, n: None,
) -> int:
    """Ray Data over the shards not written yet: one row (and block) per shard,
    `map_batches(OperatorActor, compute=ActorPoolStrategy(...))`, so each actor sets its
    operators up once and reads, applies and writes whole shards (the driver only collects one
    small row per finished shard: per-batch collection on the driver was what kept two actors
    from doubling the throughput). `actors` actors (fewer when fewer shards are pending), each
    reserving the operators' resources (its CPUs fitted to the instance unless `actor_cpus`
    says). `on_shard(shard, rows)` and `on_batch(rows)` after each finished shard (`on_batch`
    may raise to stop: the execution is closed). Returns the rows written."""
    pending = [s for s in shards if not s.done]
    if not pending:
        return 0
    declared, batch_size = needs(operators)
    cpus = actor_cpus_for(ray, actors, actor_cpus, declared.cpus, local=local)
    n_actors = max(1, min(actors, len(pending)))
    quiet_ray_data(ray)
    by_source = {s.source: s for s in pending}
    ds = ray.data.from_items(
        [{"source": s.source, "out": s.out} for s in pending], override_num_blocks=len(pending)
    )
    with warnings.catch_warnings():
        # max_restarts / max_task_retries have no named parameter yet (Ray 2.60 warns that
        # remote args are deprecated); without them an actor task that fails on bad input
        # would be retried forever (Ray Data's default is -1)
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = ds.map_batches(
            OperatorActor,
            fn_constructor_kwargs={
                "operators": list(operators),
                "text_field": text_field,
                "id_field": id_field,
                "batch_size": batch_size,
            },
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=n_actors),
            num_cpus=cpus,
            num_gpus=declared.gpus or None,
            max_restarts=2,
            max_task_retries=2,
        )
    written = 0
    rows_iter = ds.iter_rows()
    try:
        for row in rows_iter:
            if row.get("error"):  # bad data in that shard: stop now (the finally closes)
                raise error_from_payload(json.loads(str(row["error"])))
            n = int(row["rows"])
            written += n
            on_shard(by_source[str(row["source"])], n)
            on_batch(n)
    finally:
        close = getattr(rows_iter, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                close()
    return written
