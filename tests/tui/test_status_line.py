"""The status line's last error leaves once it is stale (not reported again for a while)."""

from __future__ import annotations

from tests.tui.conftest import fake_job, make_app, wait_until


def status_error(app) -> tuple[bool, str]:
    label = app.screen.query_one("#status-error")
    return bool(label.display), str(label.content)


async def test_the_last_error_leaves_the_status_line_once_stale(workspace):
    job = fake_job(workspace, state="done", done=100, total=100, live=False)
    app = make_app(workspace)
    async with app.run_test(size=(160, 48)) as pilot:
        app.error_stale_s = 1.0  # a minute in use; a second here
        await pilot.press("2")
        await wait_until(pilot, lambda: str(job) in app.screen.query_one("#jobs-table").rows)
        await pilot.press("r")  # a done job cannot resume: an error
        await wait_until(pilot, lambda: "only failed" in status_error(app)[1], what="the error")
        assert status_error(app)[0]
        await wait_until(pilot, lambda: not status_error(app)[0], what="the error to leave")
        assert app.last_error is None and status_error(app)[1] == ""
        assert app.is_running
        await pilot.press("r")  # the same error again shows again
        await wait_until(pilot, lambda: status_error(app)[0], what="the error again")
