"""The local executor drives a per-batch operator: setup once, each batch through the operator,
each result written and checkpointed in the same commit, and nothing after a cancel."""

from __future__ import annotations

import pytest

from engine.errors import JobCancelled, UsageError
from engine.exec.local import run_batches


class Doubler:
    """An operator: "out" = 2 x "x"; counts its setups and calls."""

    def __init__(self):
        self.setups = 0
        self.calls = 0

    def setup(self) -> None:
        self.setups += 1

    def __call__(self, batch):
        self.calls += 1
        return {**batch, "out": [2 * x for x in batch["x"]]}


class Sink:
    """What a job context does with a chunk: run the write, record progress and checkpoint;
    raises JobCancelled before the chunk after `cancel_after` chunks."""

    def __init__(self, cancel_after: int | None = None):
        self.commits: list[tuple] = []
        self.written: list = []
        self.cancel_after = cancel_after

    def commit_chunk(self, write, *, advance, checkpoint):
        if self.cancel_after is not None and len(self.commits) == self.cancel_after:
            raise JobCancelled("cancelled")
        write("conn")
        self.commits.append((advance, checkpoint))


def batches(n: int, size: int):
    for start in range(0, n, size):
        ids = list(range(start, min(n, start + size)))
        yield {"id": ids, "x": ids}


def test_each_batch_is_transformed_written_and_checkpointed_together():
    op, sink = Doubler(), Sink()
    rows = run_batches(
        sink,
        op,
        batches(10, 4),
        write=lambda conn, out: sink.written.append((conn, out["id"], out["out"])),
        checkpoint=lambda out: {"last": out["id"][-1]},
    )
    assert rows == 10
    assert (op.setups, op.calls) == (1, 3)
    assert sink.written == [
        ("conn", [0, 1, 2, 3], [0, 2, 4, 6]),
        ("conn", [4, 5, 6, 7], [8, 10, 12, 14]),
        ("conn", [8, 9], [16, 18]),
    ]
    assert sink.commits == [(4, {"last": 3}), (4, {"last": 7}), (2, {"last": 9})]


def test_a_cancel_stops_between_batches_with_nothing_half_written():
    op, sink = Doubler(), Sink(cancel_after=2)
    with pytest.raises(JobCancelled):
        run_batches(
            sink,
            op,
            batches(10, 4),
            write=lambda conn, out: sink.written.append(out["id"]),
            checkpoint=lambda out: {"last": out["id"][-1]},
        )
    assert sink.written == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [c[1] for c in sink.commits] == [{"last": 3}, {"last": 7}]


def test_the_fasttext_operator_refuses_a_model_that_changed(tmp_path):
    from engine.ops.fasttext_apply import FastTextApply

    model = tmp_path / "run-3-fasttext.bin"
    model.write_bytes(b"not the model that was trained")
    op = FastTextApply(model, sha256="0" * 64, run_id=3)
    with pytest.raises(UsageError) as err:
        op.setup()
    assert str(err.value) == (
        f"{model} does not match the sha256 recorded for run 3\n"
        "  fix: retrain it: betr train --run 3"
    )


class PidTagger:
    """An operator that records which process computed each batch, and drops a loaded model
    when pickled (as FastTextApply does)."""

    def __init__(self):
        self.model = None

    def setup(self) -> None:
        import os

        self.model = os.getpid()

    def __getstate__(self):
        return {"model": None}

    def __call__(self, batch):
        return {**batch, "out": [2 * x for x in batch["x"]], "pid": self.model}


@pytest.mark.parametrize("cancel_after", [None, 3])
def test_two_processes_give_the_same_chunks_in_order_and_stop_on_cancel(cancel_after):
    import os

    def run(workers, sink):
        seen = []

        def write(conn, out):
            assert "text" not in out or workers == 1
            seen.append(out["pid"])
            sink.written.append((out["id"], out["out"]))

        try:
            rows = run_batches(
                sink,
                PidTagger(),
                ({**b, "text": ["t"] * len(b["id"])} for b in batches(50, 4)),
                write=write,
                checkpoint=lambda out: {"last": out["id"][-1]},
                workers=workers,
            )
        except JobCancelled:
            rows = None
        return rows, seen

    one, two = Sink(cancel_after), Sink(cancel_after)
    rows1, pids1 = run(1, one)
    rows2, pids2 = run(2, two)
    assert rows1 == rows2 == (50 if cancel_after is None else None)
    assert two.written == one.written and two.commits == one.commits
    assert set(pids1) == {os.getpid()}
    # the pool's two processes, not this one, computed the batches
    assert os.getpid() not in pids2 and len(set(pids2)) <= 2
