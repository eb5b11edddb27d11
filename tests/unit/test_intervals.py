"""The interval chart's geometry (tui/widgets/intervals.py), computed by hand: where a value
falls on the axis, what each cell of a track holds, and the number text beside it."""

from __future__ import annotations

from tui.widgets.intervals import IntervalRow, axis_range, cell_of, track, value_text


def chars(cells) -> str:
    return "".join(ch for ch, _role in cells)


def test_cell_of_maps_the_axis_ends_to_the_first_and_last_cell():
    assert cell_of(0.0, 0.0, 10.0, 11) == 0
    assert cell_of(10.0, 0.0, 10.0, 11) == 10
    assert cell_of(5.0, 0.0, 10.0, 11) == 5
    assert cell_of(-3.0, 0.0, 10.0, 11) == 0  # clamped
    assert cell_of(42.0, 0.0, 10.0, 11) == 10


def test_axis_range_holds_every_end_and_the_reference_with_room():
    rows = [IntervalRow("a", 1.0, 0.5, 2.0), IntervalRow("b", 3.0, None, None)]
    lo, hi = axis_range(rows, reference=None)
    assert (lo, hi) == (0.5 - 0.1, 3.0 + 0.1)  # 4% of 2.5 each side
    lo, hi = axis_range([IntervalRow("d", 0.2, 0.1, 0.3)], reference=0.0)
    assert lo < 0.0 < 0.1 and hi > 0.3


def test_a_point_track_is_its_interval_with_the_point():
    row = IntervalRow("a", 5.0, 2.0, 8.0)
    assert chars(track(row, 0.0, 10.0, 11, None, bars=False)) == "  ├──●──┤  "


def test_a_bar_runs_from_the_reference_and_the_whiskers_show_outside_it():
    # a difference of +4 (interval +1..+6) on an axis -5..+5 over 11 cells: 0 is cell 5
    row = IntervalRow("d", 4.0, 1.0, 6.0)
    cells = track(row, -5.0, 5.0, 11, 0.0, bars=True)
    assert chars(cells) == "     ━├━━●┤"
    # an interval across 0: the bar starts at 0 (cell 5), the whiskers run -2..+4 around it
    row = IntervalRow("d", 2.0, -2.0, 4.0)
    cells = track(row, -5.0, 5.0, 11, 0.0, bars=True)
    assert chars(cells) == "   ├─━━●─┤ "
    assert not row.excludes and IntervalRow("d", 4.0, 1.0, 6.0).excludes
    assert IntervalRow("d", -4.0, -6.0, -1.0).excludes


def test_the_reference_line_shows_where_no_bar_or_point_covers_it():
    row = IntervalRow("a", 3.0, 2.0, 4.0)
    assert chars(track(row, 0.0, 10.0, 11, 0.0, bars=False)) == "│ ├●┤      "


def test_value_text_is_the_tables_format():
    assert value_text(IntervalRow("a", 0.0123456, 0.001, 0.0241), signed=True) == (
        "+0.01235 (+0.001000..+0.02410)"
    )
    assert value_text(IntervalRow("a", 4.84, None, None), signed=False) == "4.840 (no interval)"
