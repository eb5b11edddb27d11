"""Number formatting and the user config file."""

from __future__ import annotations

import pytest

from engine.config import load_config
from engine.errors import InputError
from engine.units import abbreviate, format_bytes, format_duration, progress_summary


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('device = "tpu"\n', "field 'device': unknown device 'tpu'"),
        ("colour = 1\n", "field 'colour': unknown setting 'colour'"),
        ("device = \n", "invalid TOML"),
        ("[keymap]\nquit = 3\n", "field 'keymap'"),
    ],
)
def test_bad_config_is_named_precisely(tmp_path, text, expected):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(InputError) as err:
        load_config(p)
    assert str(p) in str(err.value)
    assert expected in str(err.value)
