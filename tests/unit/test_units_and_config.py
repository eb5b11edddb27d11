"""Number formatting and the user config file."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.config import load_config
from engine.errors import InputError
from engine.units import (
    abbreviate,
    format_bytes,
    format_duration,
    format_number,
    format_p,
    format_percent,
    progress_summary,
)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0"),
        (999, "999"),
        (1000, "1.0k"),
        (1234, "1.2k"),
        (1_234_567, "1.2M"),
        (3.1e9, "3.1B"),
        (None, "-"),
        (12.5, "12.5"),
    ],
)
def test_abbreviate(n, text):
    assert abbreviate(n) == text


def test_durations_and_bytes():
    assert format_duration(41) == "0:41"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(None) == "-"
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KB"
    assert format_bytes(5 * 1024**3) == "5.0 GB"


def test_progress_summary_matches_the_status_line_format():
    assert progress_summary("apply", 0.62, 3100, "docs", 41) == "apply 62% 3.1k docs/s ETA 0:41"
    assert progress_summary("import", None, None, "docs", None) == "import …"


def test_config_defaults_when_missing(tmp_path):
    cfg = load_config(tmp_path / "none.toml")
    assert cfg.embedder == "all-MiniLM-L6-v2"
    assert cfg.device == "auto"
    assert cfg.keymap == {}


def test_config_reads_values(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('device = "cpu"\ntheme = "textual-light"\n[keymap]\nscreen_jobs = "j"\n')
    cfg = load_config(p)
    assert (cfg.device, cfg.theme, cfg.keymap) == ("cpu", "textual-light", {"screen_jobs": "j"})
    assert cfg.label_advance is True
    p.write_text("label_advance = false\n")
    assert load_config(p).label_advance is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('device = "tpu"\n', "field 'device': unknown device 'tpu'"),
        ("colour = 1\n", "field 'colour': unknown setting 'colour'"),
        ("device = \n", "invalid TOML"),
        ("[keymap]\nquit = 3\n", "field 'keymap'"),
        ('label_advance = "no"\n', "field 'label_advance': must be true or false"),
    ],
)
def test_bad_config_is_named_precisely(tmp_path, text, expected):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(InputError) as err:
        load_config(p)
    assert str(p) in str(err.value)
    assert expected in str(err.value)


# -- the one number formatter ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "digits", "text"),
    [
        (1.826e-05, 4, "1.826e-5"),  # the Agreement tab's BETR score, once shown as "1.826e-0"
        (1.826e-05, 3, "1.83e-5"),
        (0.41234, 4, "0.4123"),
        (0.5, 4, "0.5000"),  # significant zeros kept
        (0.500013, 6, "0.500013"),
        (12.3456, 4, "12.35"),
        (12345.6, 4, "12346"),  # more integer digits than asked: kept, never cut
        (999999.4, 4, "999999"),
        (1.2e20, 3, "1.2e20"),
        (-0.000123, 2, "-1.2e-4"),
        (0, 4, "0"),
        (None, 4, "-"),
        (math.nan, 4, "-"),
        (math.inf, 4, "inf"),
    ],
)
def test_format_number(x, digits, text):
    assert format_number(x, digits) == text


def test_format_number_signs_and_percent():
    assert format_number(0.25, 3, signed=True) == "+0.250"
    assert format_number(-0.25, 3, signed=True) == "-0.250"
    assert format_number(None, missing="n/a") == "n/a"
    assert format_percent(0.1423) == "14.2%"
    assert format_percent(0.003) == "0.300%"
    assert format_percent(None) == "-"
    assert format_p(0.0) == "< 1e-300" and format_p(0.0123) == "0.012"
    assert format_p(3.2e-5) == "3.2e-5"


FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64).filter(
    lambda v: v == 0 or 1e-300 < abs(v) < 1e300
)


@given(FLOATS, st.integers(min_value=1, max_value=8))
def test_format_number_round_trips_within_its_last_digit_and_is_never_cut(x, digits):
    """float(text) is within half a unit of the last significant digit shown; the text is the
    whole number (a column shows all of it), at most digits + 7 characters."""
    text = format_number(x, digits)
    back = float(text)
    if x == 0:
        assert back == 0
        return
    exponent = math.floor(math.log10(abs(x)))
    unit = 10.0 ** (exponent - digits + 1)
    assert abs(back - x) <= unit / 2 * (1 + 1e-9) + abs(x) * 1e-15, (x, digits, text)
    plain = abs(x) >= 1e-3 and abs(x) < 1e6
    assert len(text) <= (digits + 9 if plain else digits + 7), text
