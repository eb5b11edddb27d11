"""User configuration: a TOML file in the user config dir (or `$BETR_CONFIG`).

embedder = "all-MiniLM-L6-v2"     # default embedding model (bundled, offline)
device = "auto"                   # auto | cpu | cuda | cuda:N | mps
theme = "textual-dark"            # any Textual theme name
label_advance = true              # y/n/s in the document viewer move on to the next document
[keymap]                          # action name -> key(s), overriding the defaults
screen_jobs = "2"
cancel_job = "c,delete"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import InputError

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
DEVICES = ("auto", "cpu", "cuda", "mps")


def config_path() -> Path:
    env = os.environ.get("BETR_CONFIG")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("betr-tui")) / "config.toml"


@dataclass
class UserConfig:
    embedder: str = DEFAULT_EMBEDDER
    device: str = "auto"
    theme: str = "textual-dark"
    label_advance: bool = True
    keymap: dict[str, str] = field(default_factory=dict)
    path: Path | None = None


def load_config(path: Path | None = None) -> UserConfig:
    """Read the config file; a missing file gives the defaults, a bad one a precise error."""
    path = path or config_path()
    if not path.is_file():
        return UserConfig(path=path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"invalid TOML: {exc}", file=str(path), fix="fix the syntax or delete the file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read config: {exc}", file=str(path)) from None
    cfg = UserConfig(path=path)
    known = {"embedder", "device", "theme", "keymap", "label_advance"}
    for key, value in data.items():
        if key not in known:
            raise InputError(
                f"unknown setting '{key}'",
                file=str(path),
                field=key,
                fix=f"known settings: {', '.join(sorted(known))}",
            )
        if key == "keymap":
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise InputError(
                    'keymap must be a table of action = "key" strings',
                    file=str(path),
                    field="keymap",
                    fix='e.g. [keymap]\ncancel_job = "c"',
                )
            cfg.keymap = dict(value)
            continue
        if key == "label_advance":
            if not isinstance(value, bool):
                raise InputError(
                    f"must be true or false, got {value!r}",
                    file=str(path),
                    field=key,
                    fix="label_advance = false keeps the viewer on the labelled document",
                )
            cfg.label_advance = value
            continue
        if not isinstance(value, str):
            raise InputError(f"must be a string, got {value!r}", file=str(path), field=key)
        if key == "device" and not (value in DEVICES or value.startswith("cuda:")):
            raise InputError(
                f"unknown device '{value}'",
                file=str(path),
                field="device",
                fix="use auto, cpu, cuda, cuda:N or mps",
            )
        setattr(cfg, key, value)
    return cfg
