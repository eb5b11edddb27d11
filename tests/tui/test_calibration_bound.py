"""The Calibration tab says when the fitted temperature sits at a bound of its search, on a
workspace whose per-item log-likelihoods are CONSTRUCTED so that it must (every item
confidently wrong: the gold choice's NLL falls all the way to T = 20)."""

from __future__ import annotations

from engine.store import evals
from engine.store.db import transaction
from tests.tui.test_analysis_screen import (
    SIZE,
    build_analysis_workspace,
    constructed_items,
    open_analysis,
    open_tab,
)


async def test_a_temperature_at_the_upper_bound_is_flagged_on_the_tab(tmp_path):
    from engine.api.analysis_corr import calibration
    from tests.tui.conftest import make_app

    ws = build_analysis_workspace(tmp_path / "ws")
    wrong = []
    for it in constructed_items():
        best = max(range(4), key=lambda c: it["logliks"][c])
        wrong.append({**it, "gold": (best + 1) % 4})  # never the argmax
    with transaction(conn := ws.connect()):
        conn.execute("DELETE FROM eval_items")
        evals.insert_eval_items(conn, wrong)
    conn.close()
    want = calibration(ws, "data-a", "arc-easy", stage="PT")
    assert want.temperature_at_bound == "upper"
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_analysis(pilot, app)
        await open_tab(pilot, screen, "an-tab-cal", "cal")
        summary = str(screen.query_one("#an-cal-summary").content)
        assert "⚠ at the upper bound of [0.05, 20]: not converged" in summary
        notes = str(screen.query_one("#an-cal-notes").content)
        assert "is at the upper bound of the search [0.05, 20]" in notes
        assert app.last_error is None
