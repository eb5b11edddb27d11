"""The Threshold screen driven by keys: every number on it equals the engine's (`tradeoff`,
`agreement`, `overlap`: the functions behind `betr tradeoff|agreement|overlap --json`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.synth_run import make_synthetic_run
from engine.api.browse import RunIndex, load_run_index
from engine.api.select import parse_keep
from engine.betr.tradeoff import Budget, RunTradeoff, agreement, overlap, tradeoff
from engine.errors import UsageError
from engine.store.db import transaction
from engine.units import format_number
from tests.tui.conftest import make_app, screen_lines, wait_until
from tui.screens.threshold.format import (
    fmt_count,
    fmt_epochs,
    fmt_float,
    fmt_pct,
    fmt_prob,
    share_text,
    step_keep,
)
from tui.screens.threshold.screen import ThresholdScreen

SIZE = (160, 48)
N_DOCS = 2000


def engine_index(workspace, run_id: int) -> RunIndex:
    conn = workspace.connect(readonly=True)
    try:
        return load_run_index(conn, run_id)
    finally:
        conn.close()


def text(app, selector: str) -> str:
    return str(app.screen.query_one(selector).content)


def shown(app, selector: str) -> bool:
    widget = app.screen.query_one(selector)
    return bool(widget.display)


async def open_threshold(pilot, app) -> ThresholdScreen:
    await pilot.press("4")
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, ThresholdScreen) and app.screen.stats is not None,
        what="threshold numbers",
    )
    return app.screen


async def wait_stats(pilot, screen, expected: RunTradeoff) -> None:
    await wait_until(pilot, lambda: screen.stats == expected, what=f"stats {expected.keep_percent}")


def assert_numbers(app, expected: RunTradeoff) -> None:
    """The number widgets show the engine's values, formatted the one way."""
    assert app.screen.stats == expected
    assert text(app, "#th-threshold") == fmt_prob(expected.threshold)
    assert text(app, "#th-kept-docs") == fmt_count(expected.kept_docs, "docs")
    assert text(app, "#th-kept-tokens") == fmt_count(expected.kept_tokens, "tokens")
    detail = text(app, "#th-detail")
    assert f"{expected.kept_docs:,} docs" in detail
    assert f"{expected.kept_tokens:,} tokens" in detail


async def type_into(pilot, app, selector: str, value: str) -> None:
    """Focus an input, clear it with backspace and type `value` (then enter)."""
    widget = app.screen.query_one(selector)
    widget.focus()
    await pilot.pause()
    await pilot.press("end", *["backspace"] * (len(widget.value) + 1))
    await pilot.press(*value, "enter")
    await pilot.pause()


# -- keep rate --------------------------------------------------------------------------------------
def test_step_keep_moves_by_points_and_finer_below_one_percent():
    assert step_keep(10.0, +1, fine=False) == 11.0
    assert step_keep(10.0, -1, fine=True) == 9.9
    assert step_keep(1.0, -1, fine=False) == 0.9
    assert step_keep(1.0, +1, fine=False) == 2.0
    assert step_keep(0.5, -1, fine=True) == 0.49
    assert step_keep(0.05, -1, fine=False) == 0.01  # never 0
    assert step_keep(99.5, +1, fine=False) == 100.0


async def test_keys_and_typing_move_the_keep_to_the_engine_numbers(workspace):
    run_id = make_synthetic_run(workspace, N_DOCS)
    index = engine_index(workspace, run_id)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_threshold(pilot, app)
        assert_numbers(app, tradeoff(index, 0.10, "tokens", Budget()))

        await pilot.press("right", "right")
        await wait_stats(pilot, screen, tradeoff(index, 0.12, "tokens", Budget()))
        assert_numbers(app, screen.stats)
        assert (
            app.session.keep == 0.12 and app.session.keep_by == "tokens"
        )  # other screens follow the session

        await pilot.press("shift+left")
        await wait_stats(pilot, screen, tradeoff(index, 11.9 / 100, "tokens", Budget()))
        await pilot.press("minus", "plus", "plus")
        await wait_stats(pilot, screen, tradeoff(index, 12.9 / 100, "tokens", Budget()))

        await type_into(pilot, app, "#th-keep-input", "12.5")
        await wait_stats(pilot, screen, tradeoff(index, 12.5 / 100, "tokens", Budget()))
        assert_numbers(app, screen.stats)
        assert screen.query_one("#th-bar").has_focus  # enter hands the keys back to the bar

        await type_into(pilot, app, "#th-keep-input", "1%")
        await pilot.press("left", "shift+left")  # below 1%: 0.1 then 0.01 point steps
        await wait_stats(pilot, screen, tradeoff(index, 0.89 / 100, "tokens", Budget()))
        assert_numbers(app, screen.stats)

        # by docs and back
        await pilot.press("b")
        await wait_stats(pilot, screen, tradeoff(index, 0.89 / 100, "docs", Budget()))
        assert app.session.keep_by == "docs"
        assert_numbers(app, screen.stats)
        assert "of docs" in text(app, "#th-share")
        await pilot.press("b")
        await wait_stats(pilot, screen, tradeoff(index, 0.89 / 100, "tokens", Budget()))

        await pilot.press("e")  # export: the same numbers as `betr tradeoff --json`
        await pilot.pause()
        (path,) = workspace.exports_dir.glob("tradeoff-run*.json")
        assert json.loads(path.read_text()) == json.loads(json.dumps(screen.stats.to_json()))


async def test_bad_keep_input_says_what_to_type_and_changes_nothing(workspace):
    """The engine refuses the value (as `betr select --keep` would); the screen says so in the
    TUI's words (keys, not the CLI's flag) and keeps the input focused to fix it."""
    run_id = make_synthetic_run(workspace, N_DOCS)
    index = engine_index(workspace, run_id)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_threshold(pilot, app)
        before = tradeoff(index, 0.10, "tokens", Budget())
        for bad in ("0", "101", "abc", ""):
            if bad:
                with pytest.raises(UsageError):
                    parse_keep(bad)
            await type_into(pilot, app, "#th-keep-input", bad)
            error = text(app, "#th-keep-error")
            assert error.startswith("keep rate: "), error
            assert (f"'{bad}' is not a percentage" if bad else "type a percentage") in error
            assert "--keep" not in error and "press enter" in error
            assert screen.query_one("#th-keep-input").has_focus
            assert app.session.keep == 0.10
            assert_numbers(app, before)
        await type_into(pilot, app, "#th-keep-input", "20")
        await wait_stats(pilot, screen, tradeoff(index, 0.20, "tokens", Budget()))
        assert text(app, "#th-keep-error") == ""


async def test_a_keep_rate_typed_in_one_burst_is_not_lost(workspace):
    """`k`, `1`, `2`, enter arriving together (tmux send-keys, a fast typist), before the
    input has taken the focus; then a paste on the keep bar."""
    from textual import events

    run_id = make_synthetic_run(workspace, N_DOCS)
    index = engine_index(workspace, run_id)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_threshold(pilot, app)
        for key, char in (("k", "k"), ("1", "1"), ("2", "2"), ("enter", "\r")):
            app.post_message(events.Key(key, char))
        await wait_stats(pilot, screen, tradeoff(index, 0.12, "tokens", Budget()))
        await pilot.pause()
        assert text(app, "#th-keep-error") == ""
        assert screen.query_one("#th-bar").has_focus
        for key, char in (("k", "k"), ("3", "3"), ("full_stop", "."), ("5", "5"), ("enter", "\r")):
            app.post_message(events.Key(key, char))
        await wait_stats(pilot, screen, tradeoff(index, 0.035, "tokens", Budget()))
        screen.query_one("#th-bar").focus()
        await pilot.pause()
        app.post_message(events.Paste("7.5%"))
        await pilot.pause()
        await pilot.press("enter")
        await wait_stats(pilot, screen, tradeoff(index, 0.075, "tokens", Budget()))


async def test_enter_in_the_compute_panel_hands_the_keys_back(workspace):
    """`c`, `1B`, enter, `20B`, enter, `o` in one burst: N then D, then `o` uses F_opt
    (before, the o was typed into the D input: `20Bo`)."""
    from textual import events

    from engine.betr.tradeoff import f_opt_percent

    make_synthetic_run(workspace, N_DOCS)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_threshold(pilot, app)
        await pilot.press("c")
        await pilot.pause()
        burst = [*"1B", "enter", *"20B", "enter", "o"]
        for key in burst:
            app.post_message(events.Key(key, "\r" if key == "enter" else key))
        expected = f_opt_percent(6 * 1e9 * 20e9)
        await wait_until(pilot, lambda: abs(app.session.keep * 100 - expected) < 1e-9, what="F_opt")
        await pilot.pause()
        assert screen.query_one("#th-params").value == "1B"
        assert screen.query_one("#th-tokens").value == "20B"
        assert screen.query_one("#th-bar").has_focus


# -- compute panel ----------------------------------------------------------------------------------
async def test_compute_panel_shows_the_compute_law_and_o_applies_f_opt(workspace):
    run_id = make_synthetic_run(workspace, N_DOCS)
    index = engine_index(workspace, run_id)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_threshold(pilot, app)
        await pilot.press("o")  # no budget yet: says so, changes nothing
        await wait_until(
            pilot,
            lambda: any("budget" in n.message for n in app._notifications),
            what="the no-budget notification",
        )
        assert app.session.keep == 0.10

        await type_into(pilot, app, "#th-params", "1e9")
        assert screen.query_one("#th-tokens").has_focus  # enter moves on to D
        assert text(app, "#th-budget-error") == ""
        await type_into(pilot, app, "#th-tokens", "2e10")
        budget = Budget.of(params=1e9, tokens=2e10)
        expected = tradeoff(index, 0.10, "tokens", budget)
        await wait_stats(pilot, screen, expected)
        law = expected.compute_law
        assert text(app, "#th-budget-error") == ""
        assert text(app, "#th-compute-c") == "1.2e20 FLOPs"
        assert text(app, "#th-f-opt") == "4.19%" == fmt_pct(law.f_opt_percent)
        assert text(app, "#th-kept-f-opt") == fmt_count(law.kept_tokens_at_f_opt, "tokens")
        assert text(app, "#th-epochs") == fmt_epochs(law.epochs_at_f_opt)
        assert text(app, "#th-epochs-keep") == fmt_epochs(expected.epochs_at_keep)
        # a 2 000-doc pool cannot feed 2e10 tokens: data starvation, at F_opt and at this keep
        assert law.starvation_at_f_opt and expected.starvation_at_keep
        assert shown(app, "#th-starvation")
        assert "data starvation" in text(app, "#th-starvation")
        assert "1e24" in str(
            screen.query_one("#th-table").content.columns[0]._cells
        )  # the F_opt table

        await pilot.press("escape", "o")
        f_opt = budget.f_opt()
        await wait_until(pilot, lambda: app.session.keep == f_opt / 100.0, what="keep = F_opt")
        await wait_stats(pilot, screen, tradeoff(index, None, "tokens", budget))
        assert_numbers(app, screen.stats)

        # C alone is a budget too (no D: no epochs)
        for selector in ("#th-params", "#th-tokens"):
            await type_into(pilot, app, selector, "")
        await type_into(pilot, app, "#th-compute-input", "1e23")
        f_opt = fmt_pct(Budget.of(compute=1e23).f_opt())
        assert f_opt == "22.5%"
        await wait_until(pilot, lambda: text(app, "#th-f-opt") == f_opt, what="F_opt at 1e23")
        assert text(app, "#th-epochs") == "-"
        assert not shown(app, "#th-starvation")


# -- over-targeting -----------------------------------------------------------------------------------
async def test_over_targeting_warning_follows_the_engine(workspace):
    run_id = make_synthetic_run(workspace, N_DOCS, benchmarks=("a", "b"))
    index = engine_index(workspace, run_id)
    expected = tradeoff(index, 0.10, "tokens", Budget())
    assert expected.over_targeted  # two benchmarks: one holds more than half
    top = expected.benchmark_shares[0]
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await open_threshold(pilot, app)
        assert_numbers(app, expected)
        assert shown(app, "#th-over-warning")
        warning = text(app, "#th-over-warning")
        assert "over-targeting" in warning and top.benchmark in warning
        shares = app.screen.query_one("#th-shares").content
        caption = str(shares.renderables[0])
        assert f"on the {expected.sample_docs:,}-doc scored sample" in caption


async def test_no_warning_without_over_targeting(workspace):
    run_id = make_synthetic_run(workspace, N_DOCS)
    index = engine_index(workspace, run_id)
    calm = [
        p
        for p in range(5, 101, 5)
        if not tradeoff(index, p / 100, "tokens", Budget()).over_targeted
    ]
    assert calm, "the synthetic run is over-targeted at every keep rate"
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_threshold(pilot, app)
        await type_into(pilot, app, "#th-keep-input", str(calm[0]))
        await wait_stats(pilot, screen, tradeoff(index, calm[0] / 100, "tokens", Budget()))
        assert not shown(app, "#th-over-warning")


# -- agreement ------------------------------------------------------------------------------------------
async def test_agreement_tab_shows_the_engine_agreement_and_follows_the_keep(workspace):
    run_id = make_synthetic_run(workspace, N_DOCS)
    index = engine_index(workspace, run_id)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_threshold(pilot, app)
        await pilot.press("t")
        expected = agreement(index, 0.10, "tokens")
        await wait_until(pilot, lambda: screen.agreement == expected, what="agreement")
        assert text(app, "#ag-rho") == fmt_float(expected.spearman)
        assert text(app, "#ag-n") == f"{expected.sample_docs:,} docs"
        assert text(app, "#ag-precision") == fmt_float(expected.precision_at_keep)
        assert f"{expected.sample_docs:,}-doc scored sample" in text(app, "#ag-detail")
        table = screen.query_one("#ag-cls-over")
        assert table.row_count == len(expected.classifier_over_betr)
        first = expected.classifier_over_betr[0]
        assert table.get_row_at(0)[1].plain == str(first.doc_id)
        assert screen.query_one("#ag-betr-over").row_count == len(expected.betr_over_classifier)

        await pilot.press("plus")  # keys still move the keep on this tab
        expected = agreement(index, 0.11, "tokens")
        await wait_until(pilot, lambda: screen.agreement == expected, what="agreement at 11%")

        table.focus()
        table.move_cursor(row=0)
        await pilot.press("enter")  # opens the doc in the viewer; ] walks this list
        await wait_until(pilot, lambda: app.screen.SCOPE == "viewer", what="the viewer")
        viewer = app.screen
        await wait_until(pilot, lambda: viewer.detail is not None, what="the doc's detail")
        assert viewer.detail.doc_id == first.doc_id
        second = expected.classifier_over_betr[1].doc_id
        await pilot.press("right_square_bracket")
        await wait_until(
            pilot,
            lambda: viewer.detail is not None and viewer.detail.doc_id == second,
            what="the next doc of the disagreement list",
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, what="back on the Threshold screen")


# -- compare runs ------------------------------------------------------------------------------------------
async def test_compare_tab_overlap_equals_the_engine_and_other_corpora_are_refused(workspace):
    run_1 = make_synthetic_run(workspace, N_DOCS)
    run_2 = make_synthetic_run(workspace, N_DOCS, targets="other-targets", seed=1)
    index_1, index_2 = engine_index(workspace, run_1), engine_index(workspace, run_2)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_threshold(pilot, app)
        assert app.session.run_id == run_2  # the newest applied run
        await pilot.press("t", "t")
        expected = overlap(index_2, index_1, 0.10, "tokens")
        await wait_until(pilot, lambda: screen.comparison is not None, what="comparison")
        got = screen.comparison
        for key in ("run_a", "run_b", "kept_a", "kept_b", "overlap", "jaccard", "keep_percent"):
            assert getattr(got, key) == getattr(expected, key), key
        assert np.array_equal(got.only_a, expected.only_a)
        assert np.array_equal(got.only_b, expected.only_b)
        assert text(app, "#cmp-overlap") == fmt_count(expected.overlap, "docs")
        assert text(app, "#cmp-jaccard") == fmt_float(expected.jaccard)
        only_a = screen.query_one("#cmp-only-a")
        await wait_until(pilot, lambda: only_a.row_count > 0, what="set difference rows")
        assert only_a.row_count == min(200, len(expected.only_a))
        first = int(expected.only_a[0])
        row = only_a.get_row_at(0)
        conn = workspace.connect(readonly=True)
        try:
            ext_id = conn.execute("SELECT ext_id FROM docs WHERE id = ?", (first,)).fetchone()[0]
        finally:
            conn.close()
        assert row[0].plain == str(first) and row[1].plain == ext_id
        assert row[2].plain == format_number(index_2.prob[index_2.row_of_doc(first)], 3)

        # the keep moves: the comparison follows
        await pilot.press("minus")
        expected = overlap(index_2, index_1, 0.09, "tokens")
        await wait_until(
            pilot,
            lambda: (
                screen.comparison is not None
                and screen.comparison.overlap == expected.overlap
                and screen.comparison.keep_percent == expected.keep_percent
            ),
            what="comparison at 9%",
        )

        # a run over another corpus: the engine's error, clearly
        run_3 = make_synthetic_run(workspace, 300, corpus="elsewhere", seed=2)
        index_3 = engine_index(workspace, run_3)
        with pytest.raises(UsageError) as err:
            overlap(index_2, index_3, 0.09, "tokens")
        await wait_until(pilot, lambda: run_3 in app.session.runs, what="run 3 polled")
        await wait_until(
            pilot,
            lambda: any(v == run_3 for _label, v in screen.compare_tab.run_options),
            what="run 3 in the pickers",
        )
        screen.query_one("#cmp-b").value = run_3
        await wait_until(
            pilot, lambda: text(app, "#cmp-message") == str(err.value), what="corpus error"
        )
        assert shown(app, "#cmp-message") and not shown(app, "#cmp-body")
        assert "different corpora" in text(app, "#cmp-message")


# -- empty states -----------------------------------------------------------------------------------------
async def test_empty_workspace_explains_what_to_do_on_every_tab(workspace):
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await wait_until(pilot, lambda: isinstance(app.screen, ThresholdScreen), what="screen")
        await pilot.pause(0.3)
        assert shown(app, "#th-empty") and not shown(app, "#th-body")
        assert "No current run" in text(app, "#th-empty")
        assert "Workspace" in text(app, "#th-empty")
        await pilot.press("t")
        assert "No current run" in text(app, "#ag-empty")
        await pilot.press("t")
        await pilot.pause()
        assert "needs two applied runs" in text(app, "#cmp-message")
        await pilot.press("right", "b", "o", "e")  # keys do nothing harmful without a run
        await pilot.pause()


async def test_scored_but_unapplied_run_says_apply_it(workspace):
    run_id = make_synthetic_run(workspace, 500)
    conn = workspace.connect()
    try:
        with transaction(conn):
            conn.execute("UPDATE runs SET state = 'scored' WHERE id = ?", (run_id,))
            conn.execute("DELETE FROM run_columns WHERE run_id = ?", (run_id,))
    finally:
        conn.close()
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await wait_until(
            pilot, lambda: "not applied" in text(app, "#th-empty"), what="not-applied text"
        )
        assert f"betr apply --run {run_id}" in text(app, "#th-empty")
        assert "not applied" in text(app, "#ag-empty")


async def test_non_positive_budgets_are_refused_and_change_nothing(workspace):
    run_id = make_synthetic_run(workspace, N_DOCS)
    index = engine_index(workspace, run_id)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_threshold(pilot, app)
        before = tradeoff(index, 0.10, "tokens", Budget())
        await wait_stats(pilot, screen, before)
        for selector, bad, name in (
            ("#th-params", "0", "model parameters N"),
            ("#th-params", "-3B", "model parameters N"),
            ("#th-tokens", "-1", "training tokens D"),
            ("#th-compute-input", "0", "compute C"),
            ("#th-compute-input", "lots", "compute C"),
        ):
            await type_into(pilot, app, selector, bad)
            error = text(app, "#th-budget-error")
            assert f"{name}: '{bad}' is not a positive amount; type an amount such as" in error
            assert "--" not in error  # keys and words, not the CLI's flags
            assert screen.query_one(selector).has_focus
            assert screen.stats.compute_law.compute is None
            assert screen.stats == before
            await type_into(pilot, app, selector, "")


async def test_an_applied_run_without_documents_is_explained(workspace):
    make_synthetic_run(workspace, 300)
    conn = workspace.connect()
    try:
        with transaction(conn):  # a second run, applied, over nothing
            conn.execute(
                "INSERT INTO runs (kind, name, config, config_hash, state, corpus_id, created_at) "
                "VALUES ('betr', 'empty', '{\"benchmarks\": {}}', 'x', 'applied', 1, 0)"
            )
    finally:
        conn.close()
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot, lambda: app.session.run_id == 2, what="the newest run as current run"
        )
        await pilot.press("4")
        await wait_until(
            pilot, lambda: "has no scored documents" in text(app, "#th-empty"), what="message"
        )
        await pilot.press("3")
        await wait_until(
            pilot,
            lambda: any("has no scored documents" in n.message for n in app._notifications),
            what="the Documents screen's error",
        )


# -- a small terminal -------------------------------------------------------------------------------------
async def test_at_80x24_every_number_reads_whole_and_c_scrolls_to_the_budget(workspace):
    """The default SSH terminal: the compute panel goes under the keep numbers (not beside
    them), the cards wrap, and every value and caption is on screen in full."""
    run_id = make_synthetic_run(workspace, N_DOCS)
    index = engine_index(workspace, run_id)
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_threshold(pilot, app)
        expected = tradeoff(index, 0.10, "tokens", Budget())
        assert_numbers(app, expected)
        await wait_until(  # the full width, not a column (laid out after the numbers: wait)
            pilot,
            lambda: screen.query_one("#th-stats").size.width >= 70,
            what="the keep numbers at full width",
        )
        wholes = (
            fmt_prob(expected.threshold),
            fmt_count(expected.kept_docs, "docs"),
            fmt_count(expected.kept_tokens, "tokens"),
            share_text(expected),
            "threshold p(positive)",
            "kept docs",
            "kept tokens",
            "share of the pool",
        )
        await wait_for_text(pilot, app, wholes)

        await pilot.press("c")  # the budget: below, scrolled into view
        await wait_until(pilot, lambda: screen.query_one("#th-params").has_focus, what="focus")
        await pilot.press(*"1e9", "tab", *"2e10", "enter")
        budget = Budget.of(params=1e9, tokens=2e10)
        expected = tradeoff(index, 0.10, "tokens", budget)
        await wait_stats(pilot, screen, expected)
        law = expected.compute_law
        wholes = (
            "1.2e20 FLOPs",
            fmt_pct(law.f_opt_percent),
            fmt_count(law.kept_tokens_at_f_opt, "tokens"),
            fmt_epochs(law.epochs_at_f_opt),
            fmt_epochs(expected.epochs_at_keep),
            "epochs at this keep",
        )
        await wait_for_text(pilot, app, wholes)


async def wait_for_text(pilot, app, wholes: tuple[str, ...]) -> None:
    """Every one of `wholes` on screen, whole (waited for: a loaded machine paints late); the
    first one missing is named when it never comes."""

    def missing() -> list[str]:
        on_screen = "\n".join(screen_lines(app))
        return [w for w in wholes if w not in on_screen]

    try:
        await wait_until(pilot, lambda: not missing(), timeout=30, what="the numbers on screen")
    except AssertionError:
        assert not missing(), f"not on screen: {missing()}"


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
async def test_agreement_numbers_read_whole(workspace, size):
    """Scores of 1/rank at a large sample are tiny (1.8e-05 read "1.826e-0" once): every
    number in the Agreement tables is formatted the one way and shown whole, at 80 and 160
    columns."""
    from engine.store.scores import write_prob_order
    from engine.units import format_number

    run_id = make_synthetic_run(workspace, N_DOCS)
    conn = workspace.connect()
    with transaction(conn):  # BETR scores below 1e-3, as 1/rank is in a 100k-doc sample
        conn.execute("UPDATE run_sample SET score = score * 3.7e-5 WHERE run_id = ?", (run_id,))
        write_prob_order(conn, run_id)  # the packed columns the screens read
    conn.close()
    index = engine_index(workspace, run_id)
    app = make_app(workspace)
    async with app.run_test(size=size) as pilot:
        screen = await open_threshold(pilot, app)
        await pilot.press("t")
        expected = agreement(index, 0.10, "tokens")
        await wait_until(pilot, lambda: screen.agreement == expected, what="agreement")
        await pilot.pause(0.3)
        for table_id, key in (
            ("#ag-cls-over", "classifier_over_betr"),
            ("#ag-betr-over", "betr_over_classifier"),
        ):
            table = screen.query_one(table_id)
            for k, r in enumerate(getattr(expected, key)):
                cells = [c.plain for c in table.get_row_at(k)]
                assert cells[3] == format_number(r.score, 4)
                assert cells[2] == fmt_float(r.prob)
                column = table.ordered_columns[3]
                assert column.get_render_width(table) >= len(cells[3]) + 2  # never cut
        tiny = [r.score for r in expected.betr_over_classifier if 0 < r.score < 1e-3]
        assert tiny, "the case has scores below 1e-3"
        table = screen.query_one("#ag-betr-over")
        table.focus()  # scrolls the table into view at 80x24; under load the frame can lag
        want = format_number(tiny[0], 4)
        try:
            await wait_until(pilot, lambda: want in "\n".join(screen_lines(app)), what=want)
        except AssertionError:
            assert want in "\n".join(screen_lines(app))
