"""The Ray executor: the same per-batch operators as the local executor, in Ray actors over
sharded files, one Parquet file out per input shard.

Pipeline: Ray Data over one row (and block) per pending shard, `map_batches(ShardMapper,
compute=ActorPoolStrategy(size=actors))`: each actor loads the model once and, per shard, runs
`process_shard` (read it with our readers: JSONL, .gz, .zst, Parquet, with precise errors;
apply the operator batch by batch; write its rows, in input order, to `<name>.parquet.tmp`,
then rename), so a shard file that exists is whole and a re-run skips it. The driver iterates
one small row per finished shard and reports progress to the caller (which may raise to
cancel: the execution is closed, and a local instance shut down by the job). The local
single-process path for shard files is the same `process_shard`, shard after shard.

CPU reservation: each actor gets min(1, (CPUs - READ_CPUS) / actors) by default (0.875 with
`num_cpus=2` and 2 actors), so the short row-counting tasks (READ_CPUS) still fit. An explicit
--actor-cpus that leaves no room for them on a local instance is refused.

Retries are for lost workers, not for bad data: a shard that cannot be read (a truncated JSON
line, a record without its text field, a corrupt .gz) is reported, not raised, by the counting
task or the actor (its InputError travels back as data: `error_payload`), and the driver raises
it at once, naming the shard, the line and the field (exit 2, no retry, no Ray traceback).
Other exceptions are retried: counting tasks on any exception (max_retries=3,
retry_exceptions=True), a shard's actor task on errors too (DataContext.
actor_task_retry_on_errors, max_task_retries=2: the shard is redone from its start), and dead
actors restart (max_restarts=2).
Ray is imported only inside functions; the workers import this module by name, so the `engine`
package must be importable on every node (installed, as it is for a local instance).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UsageError
from engine.exec.ray_shards import READ_CPUS, Shard, error_from_payload, error_payload

log = logging.getLogger(__name__)

INSTALL_FIX = "install the Ray extra: pip install 'betr-tui[ray]'"
FAULT_ENV = "BETR_RAY_FAULT_DIR"  # tests: a file `fail-once` there fails one actor call


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


# -- reading a shard (in the actors) ----------------------------------------------------------
def read_shard(
    batch: dict[str, np.ndarray], *, text_field: str, id_field: str, rows_per_batch: int
) -> Iterator[dict[str, np.ndarray]]:
    """(in process_shard) The documents of the shards in `batch["source"]` (one), as batches
    {id, text, shard, row, size}: `row` counts from 0 in the shard, `size` (-1 until the final
    batch) is how many rows it has."""
    from engine.ingest.docfields import extract_doc
    from engine.ingest.readers import iter_records
    from engine.ingest.sources import PathSource

    for source in batch["source"]:
        ids: list[str] = []
        texts: list[str] = []
        row = 0
        for rec in iter_records(PathSource(Path(str(source)))):
            ext_id, text, _meta = extract_doc(rec, text_field, id_field)
            ids.append(ext_id)
            texts.append(text)
            if len(ids) >= rows_per_batch:
                yield _read_batch(ids, texts, str(source), row, last=False)
                row += len(ids)
                ids, texts = [], []
        yield _read_batch(ids, texts, str(source), row, last=True)


def _read_batch(ids: list[str], texts: list[str], source: str, start: int, *, last: bool) -> Any:
    """(a pyarrow Table) `size` is -1, or on a shard's final batch its number of rows; an empty final batch is
    one marker row (row -1) that carries only the size."""
    n = len(ids)
    size = start + n if last else -1
    if not n:
        ids, texts, rows = [""], [""], np.array([-1], dtype=np.int64)
    else:
        rows = np.arange(start, start + n, dtype=np.int64)
    import pyarrow as pa

    return pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "text": pa.array(texts, pa.string()),
            "shard": pa.array([source] * len(ids), pa.string()),
            "row": rows,
            "size": np.full(len(ids), size, dtype=np.int64),
        }
    )


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


# -- the actors ---------------------------------------------------------------------------------
class ApplyActor:
    """One model per actor: p(positive) (FastTextApply) and the token count of each text."""

    def __init__(self, model_path: str, sha256: str | None, run_id: int | None, tokenizer: str):
        from engine.ops.fasttext_apply import FastTextApply
        from engine.tokenize import load_tokenizer

        self.op = FastTextApply(model_path, sha256, run_id)
        self.op.setup()
        self.counter = load_tokenizer(tokenizer)

    def __call__(self, batch: Any) -> Any:
        """pyarrow Table {id, text, shard, row, size} -> {id, prob, n_tokens, shard, row, size}."""
        _maybe_fail_once()
        texts = batch.column("text").to_pylist()
        prob = self.op({"id": batch.column("id"), "text": texts})["prob"]
        n_tokens = np.asarray(self.counter.count(texts), dtype=np.int64)
        table = batch.drop_columns(["text"])
        table = table.add_column(1, "prob", [np.asarray(prob, dtype=np.float64)])
        return table.add_column(2, "n_tokens", [n_tokens])


class EmbedActor:
    """One embedder per actor (on its GPU when it has one): unit vectors of the texts."""

    def __init__(self, embedder: str | None, device: str, batch_size: int):
        from engine.ops.embed import EmbedTexts

        self.op = EmbedTexts(embedder, device=device, batch_size=batch_size)
        self.op.setup()

    def __call__(self, batch: Any) -> Any:
        """pyarrow Table {id, text, ...} -> {id, vector (fixed-size list of float32), ...}."""
        import pyarrow as pa

        _maybe_fail_once()
        vectors = np.asarray(self.op({"text": batch.column("text").to_pylist()})["vector"])
        flat = pa.array(vectors.astype(np.float32).reshape(-1))
        column = pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1] if vectors.ndim else 0)
        return batch.drop_columns(["text"]).add_column(1, "vector", column)


# -- the run ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pool:
    """How the actors run: how many, CPUs and GPUs each, rows per batch."""

    actors: int
    actor_cpus: float | None
    batch_size: int
    actor_gpus: float = 0.0


def actor_cpus_for(ray: Any, pool: Pool, *, local: bool) -> float:
    """CPUs per actor: as asked, or min(1, (CPUs - READ_CPUS) / actors); a local instance
    must keep READ_CPUS free for a read task (UsageError otherwise)."""
    total = float(ray.cluster_resources().get("CPU", 1.0))
    room = total - READ_CPUS
    if pool.actor_cpus is None:
        return max(0.05, min(1.0, room / pool.actors))
    if local and pool.actors * pool.actor_cpus > room + 1e-9:
        raise UsageError(
            f"{pool.actors} actors x {pool.actor_cpus} CPUs leave no CPU for reading on "
            f"{total:g} CPUs (a read task needs {READ_CPUS})",
            fix=f"use --actor-cpus {room / pool.actors:.2f} or fewer --actors (or omit "
            "--actor-cpus: it then fits the actors to the CPUs)",
        )
    return pool.actor_cpus


def process_shard(
    worker: Any, source: str, out: str, text_field: str, id_field: str | None, batch_size: int
) -> int:
    """One whole shard in one process: read it with our readers, run `worker` (an ApplyActor or
    EmbedActor) over its batches, write its rows in input order. Returns the rows written."""
    parts = [
        worker(batch)
        for batch in read_shard(
            {"source": [source]},
            text_field=text_field,
            id_field=id_field,
            rows_per_batch=batch_size,
        )
    ]
    return _write_shard(Shard(source, out), parts)


class ShardMapper:
    """(the actor class `map_batches` runs) One model per actor; each row of a batch names a
    shard, and `process_shard` reads, applies and writes it inside the actor."""

    def __init__(
        self,
        actor_cls: type,
        actor_kwargs: dict[str, Any],
        text_field: str,
        id_field: str | None,
        batch_size: int,
    ):
        self.worker = actor_cls(**actor_kwargs)
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
                rows.append(process_shard(self.worker, src, out, *self.args))
                errors.append("")
            except BetrError as exc:
                rows.append(-1)
                errors.append(json.dumps(error_payload(exc)))
        return {"source": sources, "rows": rows, "error": errors}


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


def run_shards(
    ray: Any,
    shards: Sequence[Shard],
    actor_cls: type,
    actor_kwargs: dict[str, Any],
    pool: Pool,
    *,
    text_field: str = "text",
    id_field: str | None = "id",
    local: bool = True,
    on_batch: Callable[[int], None] = lambda n: None,
    on_shard: Callable[[Shard, int], None] = lambda s, n: None,
) -> int:
    """Ray Data over the shards not written yet: one row (and block) per shard,
    `map_batches(ShardMapper, compute=ActorPoolStrategy(...))`, so each actor loads its model
    once and reads, applies and writes whole shards (the driver only collects one small row per
    finished shard: per-batch collection on the driver was what kept two actors from doubling
    the throughput). `on_shard(shard, rows)` and `on_batch(rows)` after each finished shard
    (`on_batch` may raise to stop: the execution is closed). Returns the rows written."""
    pending = [s for s in shards if not s.done]
    if not pending:
        return 0
    cpus = actor_cpus_for(ray, pool, local=local)
    n_actors = max(1, min(pool.actors, len(pending)))
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
            ShardMapper,
            fn_constructor_kwargs={
                "actor_cls": actor_cls,
                "actor_kwargs": actor_kwargs,
                "text_field": text_field,
                "id_field": id_field,
                "batch_size": pool.batch_size,
            },
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=n_actors),
            num_cpus=cpus,
            num_gpus=pool.actor_gpus or None,
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


def _write_shard(shard: Shard, parts: list[Any]) -> int:
    """The shard's rows, in input order, without the bookkeeping columns: to a temporary
    name, then renamed (a shard file that exists is whole)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pa.concat_tables(parts)
    table = table.filter(pc.greater_equal(table.column("row"), 0))  # no empty-shard marker
    table = table.sort_by("row").drop_columns(["row", "size"])
    out = Path(shard.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # a name of its own: two runs into one --out never write the same temporary file
    tmp = out.with_name(f"{out.name}.{os.getpid()}-{time.monotonic_ns()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, out)
    return table.num_rows
